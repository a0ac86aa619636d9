"""The reader-facing routes: pages, feeds, sitemap. Thin: they ask the library and render."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from werkzeug.exceptions import NotFound

from newsletter import links
from newsletter.content import dates, library
from newsletter.content.library import current_posts, get_library
from newsletter.content.posts import Post, tag_slug
from newsletter.content.rendered import RenderedPost
from newsletter.content.snapshot import Snapshot
from newsletter.web import assets, feeds, pagecache

bp = Blueprint("web", __name__)


def cached(key: tuple, render, mimetype: str = "text/html", status: int = 200):
    """Serve the document for `key` from the cache of the current posts version."""
    snapshot = current_posts()
    # A plain GET's document is also filed under its URL, for pagecache.PageCache.
    path = request.environ.get("PATH_INFO") if status == 200 and not request.query_string else None
    document = pagecache.document_cache().get(
        snapshot, key, mimetype, lambda: render(snapshot), path
    )
    return pagecache.serve(document, status)


def render_page(template: str, **context) -> str:
    """Render a page for the cache, shared by every reader: nothing personal goes in it, so
    its subscribe form relies on the browser's same-origin headers instead of a session token
    (see signup.py)."""
    return render_template(template, shared_page=True, **context)


@bp.get("/")
@bp.get("/page/<int:page>/")
def index(page: int = 1):
    """The latest essays, newest first, a page at a time."""
    canonical = url_for("web.index", page=page) if page > 1 else url_for("web.index")
    if request.path != canonical:  # /page/1/ and /page/02/ share a cached page: one URL each
        return redirect(canonical, 301)
    return cached(("index", page), lambda snapshot: render_index(snapshot, page))


def render_index(snapshot: Snapshot, page: int) -> str:
    """One page of the home page's list; 404 past the last page."""
    per_page = max(1, int(current_app.config["POSTS_PER_PAGE"]))
    pages = max(1, -(-len(snapshot.published) // per_page))
    if page < 1 or page > pages:
        abort(404)
    posts = rendered(snapshot.published[(page - 1) * per_page : page * per_page])
    return render_page("index.html", posts=posts, page=page, pages=pages)


@bp.get("/posts/<slug>/")
def post(slug: str):
    """One essay, with its neighbours and the subscribe form."""
    if slug not in current_posts().by_slug:
        get_library().catch_up()  # just published? another worker may list it already
    return cached(("post", slug), lambda snapshot: render_post(snapshot, slug))


def render_post(snapshot: Snapshot, slug: str) -> str:
    """The essay page with its older and newer neighbours; 404 for an unpublished slug."""
    essay = snapshot.by_slug.get(slug)
    if essay is None:
        abort(404)
    position = snapshot.published.index(essay)
    newer = snapshot.published[position - 1] if position > 0 else None
    older = snapshot.published[position + 1] if position + 1 < len(snapshot.published) else None
    return render_page("post.html", post=library.render(essay), newer=newer, older=older)


@bp.get("/archive/")
def archive():
    """Every published essay, grouped by year."""
    return cached(
        ("archive",),
        lambda snapshot: render_page("archive.html", years=posts_by_year(snapshot.published)),
    )


def posts_by_year(posts: tuple[Post, ...]) -> list[tuple[int, list[Post]]]:
    """Group posts (already newest first) under their year in the site's time zone."""
    years: dict[int, list[Post]] = {}
    for essay in posts:
        years.setdefault(local_time(essay.published_at).year, []).append(essay)
    return list(years.items())


@bp.get("/tags/")
def tags():
    """Every tag with its number of essays and its latest titles."""
    return cached(
        ("tags",),
        lambda snapshot: render_page(
            "tags.html", tags=tag_overview(snapshot), essays=len(snapshot.published)
        ),
    )


TAG_PAGE_TITLES = 3  # the latest essays shown under each tag on /tags/


def tag_overview(snapshot: Snapshot) -> list[tuple[str, str, int, tuple[Post, ...]]]:
    """(name, slug, count, latest essays) of each tag, the most used first, then by name."""
    rows = [
        (snapshot.tag_names[slug], slug, len(items), items[:TAG_PAGE_TITLES])
        for slug, items in snapshot.by_tag.items()
    ]
    return sorted(rows, key=lambda row: (-row[2], row[0].lower()))


@bp.get("/tags/<tag>/")
def tag(tag: str):
    """The essays with one tag."""
    return cached(("tag", tag), lambda snapshot: render_tag(snapshot, tag))


def render_tag(snapshot: Snapshot, tag: str) -> str:
    """A tag's page; 404 for a tag no published essay has."""
    if tag not in snapshot.by_tag:
        abort(404)
    posts = rendered(snapshot.by_tag[tag])
    return render_page("tag.html", tag=snapshot.tag_names[tag], tag_slug=tag, posts=posts)


@bp.get("/sitemap.xml")
def sitemap():
    """Every public page for search engines."""
    return cached(
        ("sitemap",),
        lambda snapshot: render_template("sitemap.xml", snapshot=snapshot),
        mimetype="application/xml",
    )


@bp.get("/robots.txt")
def robots():
    """Let crawlers in, keep them out of personal links, point them at the sitemap."""
    return cached(
        ("robots",), lambda snapshot: render_template("robots.txt"), mimetype="text/plain"
    )


@bp.app_errorhandler(404)
def not_found(error: NotFound):
    """Redirect an old URL listed in some essay's `aliases`, else show the 404 page."""
    snapshot = current_posts()
    path = request.path
    for candidate in (path, path.rstrip("/"), path.rstrip("/") + "/"):
        essay = snapshot.aliases.get(candidate)
        if essay is not None:
            return redirect(url_for("web.post", slug=essay.slug), 301)
    return cached(("404",), lambda _snapshot: render_page("404.html"), status=404)


def local_time(moment):
    """A datetime in the site's `TIMEZONE`, for display."""
    return dates.local_time(moment, get_library().timezone)


@bp.app_template_filter("display_date")
def display_date(moment) -> str:
    """A date as readers write it, the same on pages, in feeds and in emails."""
    return dates.display_date(moment, get_library().timezone)


@bp.app_template_filter("iso")
def iso(moment) -> str:
    """A datetime in ISO 8601, for <time datetime> and Open Graph."""
    return local_time(moment).isoformat()


@bp.app_template_filter("tag_slug")
def tag_slug_filter(tag: str) -> str:
    """A tag's URL name, for links in templates."""
    return tag_slug(tag)


@bp.app_template_global()
def stylesheet_version() -> str:
    """The stylesheet's digest, so its URL changes whenever its content does."""
    return assets.stylesheet(current_app.static_folder)[1]


@bp.app_template_global()
def share_image(post: Post | None = None) -> str | None:
    """The absolute URL of the picture shared with a link (og:image): the essay's first
    `images` entry, else `SITE_IMAGE`; None when there is neither."""
    image = (post.images[0] if post is not None and post.images else None) or current_app.config[
        "SITE_IMAGE"
    ]
    if not image:
        return None
    return links.absolute_url(image, current_app.config["SITE_URL"] + "/")


@bp.get("/favicon.svg")
def favicon():
    """The site's icon: a few hundred bytes of SVG, so no page view ends in a 404."""
    response = send_from_directory(current_app.static_folder, "favicon.svg", max_age=86400)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@bp.get("/favicon.ico")
def favicon_ico():
    """Browsers and crawlers that ask for the old name get the SVG."""
    return redirect(url_for("web.favicon"), 301)


@bp.get("/assets/site.css")
def stylesheet():
    """The site's CSS with the code colours; cached for a year under a versioned URL."""
    css, digest = assets.stylesheet(current_app.static_folder)
    response = Response(css, mimetype="text/css")
    response.set_etag(digest)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response.make_conditional(request)


# --- feeds ------------------------------------------------------------------------------------


def rendered(posts: tuple[Post, ...]) -> list[RenderedPost]:
    """The posts with their bodies, for pages and feeds that show summaries or full text."""
    return [library.render(essay) for essay in posts]


def latest(posts: tuple[Post, ...]) -> list[RenderedPost]:
    """The first `FEED_ITEMS` of `posts` (newest first), rendered for a feed."""
    return rendered(posts[: int(current_app.config["FEED_ITEMS"])])


@bp.get("/feed.xml", defaults={"kind": "rss"}, endpoint="rss")
@bp.get("/atom.xml", defaults={"kind": "atom"}, endpoint="atom")
@bp.get("/feed.json", defaults={"kind": "json"}, endpoint="json_feed")
def site_feed(kind: str):
    """RSS 2.0, Atom 1.0 or JSON Feed 1.1 of the latest essays, with full content."""
    build = {"rss": feeds.rss_feed, "atom": feeds.atom_feed, "json": feeds.json_feed}[kind]
    return cached(
        (kind,),
        lambda snapshot: build(latest(snapshot.published), feeds.feed_info(kind=kind)),
        mimetype=feeds.MEDIA_TYPES[kind],
    )


@bp.get("/tags/<tag>/feed.xml")
def tag_feed(tag: str):
    """RSS 2.0 of one tag's essays."""
    return cached(
        ("tag-rss", tag),
        lambda snapshot: render_tag_feed(snapshot, tag),
        mimetype=feeds.MEDIA_TYPES["rss"],
    )


def render_tag_feed(snapshot: Snapshot, tag: str) -> bytes:
    """A tag's RSS feed of its latest `FEED_ITEMS` essays; 404 for an unknown tag."""
    if tag not in snapshot.by_tag:
        abort(404)
    info = feeds.feed_info(tag_slug=tag, tag_name=snapshot.tag_names[tag])
    return feeds.rss_feed(latest(snapshot.by_tag[tag]), info)
