// Passkeys for the desk: the WebAuthn ceremonies in the browser; the server checks everything.
"use strict";

async function postForm(url, csrf, fields) {
  const body = new URLSearchParams(fields || {});
  const response = await fetch(url, {
    method: "POST",
    headers: { "X-CSRFToken": csrf },
    body: body,
    credentials: "same-origin",
  });
  return response;
}

function say(button, text) {
  const status = button.closest("section").querySelector(".passkey-status");
  status.textContent = text;
}

async function ceremony(button, create, fields) {
  const csrf = button.dataset.csrf;
  try {
    const options = await (await postForm(button.dataset.options, csrf)).json();
    const credential = create
      ? await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options) })
      : await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options) });
    const answer = await postForm(button.dataset.verify, csrf,
      Object.assign({ credential: JSON.stringify(credential.toJSON()) }, fields || {}));
    const result = await answer.json();
    if (result.ok) {
      window.location.assign(result.next);
    } else {
      say(button, result.message);
    }
  } catch (error) {
    say(button, "The passkey did not work here: " + error.message);
  }
}

document.addEventListener("DOMContentLoaded", function () {
  if (!window.PublicKeyCredential || !PublicKeyCredential.parseCreationOptionsFromJSON) {
    return;
  }
  const signIn = document.getElementById("passkey-sign-in");
  if (signIn) {
    signIn.closest("section").hidden = false;
    signIn.addEventListener("click", function () { ceremony(signIn, false); });
  }
  const register = document.getElementById("passkey-register");
  if (register) {
    register.closest("section").hidden = false;
    register.addEventListener("click", function () {
      ceremony(register, true, { name: document.getElementById("passkey-name").value });
    });
  }
});
