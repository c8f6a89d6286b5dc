"""The app's HTTP side: Starlette routes over one loaded model, and ``serve`` (uvicorn).

Every error a user can cause comes back as JSON ``{"error": "..."}`` that the page shows in its
message area; unexpected errors too, with the traceback in the terminal only. Stylizations run
one at a time in a worker thread (the CPU is the limit, not the event loop), and a preview that
is still waiting when a newer one arrives is skipped: the newest request wins. "Newer" is the
order the page sent them in (its ``page`` and ``seq`` settings), since two requests in flight at
once may arrive in either order; a request that names no page counts in the order it arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import quote, urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..config import SETTING_BOUNDS
from ..data.images import encode_image
from ..errors import ConfigError, StyleFusionError
from ..inference.fusion import content_row
from ..inference.tiling import reporting_progress
from ..model_io import load_generator, load_style_encoder
from ..models.generator import StyleFusionGenerator
from ..models.style_encoder import StyleEncoder
from .rendering import (
    COLOR_CHOICES,
    DEFAULT_SOFTNESS,
    MAX_SOFTNESS,
    CachedRows,
    Job,
    SoftMasks,
    parse_job,
    png_bytes,
    stylize_full,
    stylize_preview,
    tiles_on_copy,
    warm_up,
)
from .best import best_quality_job, render_best
from .session import Limits, Photo, Session, UnknownUpload
from .uploads import UploadTooLarge, read_form

STATIC = Path(__file__).resolve().parent / "static"
DEFAULT_HOST = "127.0.0.1"
STREAM_CHUNK = 1024 * 1024
PREVIEW_PAGES = 64  # pages whose newest preview request is remembered (a reload is a new page)
IDLE = {"stage": "", "done": 0, "total": 0}  # no full-size render running


class AppState:
    """The model, the uploads and the queue of one app run."""

    def __init__(self, generator: StyleFusionGenerator, encoder: StyleEncoder | None, limits: Limits,
                 title: str):
        self.generator, self.title = generator, title
        self.tiles_on = tiles_on_copy(generator)
        self.encoder = CachedRows(encoder) if encoder is not None else None
        self.masks = SoftMasks()
        self.session = Session(limits)
        self.limits = limits
        self.latest_preview = 0  # requests arrived, the order of those that name no page
        self._newest: OrderedDict[str, int] = OrderedDict()  # per page, its newest preview's number
        self._locks: dict[int, asyncio.Lock] = {}
        self.render_progress: dict[str, Any] = dict(IDLE)  # set by the render's thread

    def generator_for(self, job: Job) -> StyleFusionGenerator:
        """The model, or its copy with the tiles on when the job turns on brushwork the model
        leaves off by default (made once, so previews do not trace a new copy each)."""
        settings = job.options.settings
        if self.tiles_on is not None and settings is not None and settings.texture:
            return self.tiles_on
        return self.generator

    def preview_place(self, settings: dict[str, Any], arrival: int) -> tuple[str, int]:
        """A preview's page and its number there: the page's own count when it sends one (the order
        it sent its requests in), else its place among the requests that arrived. Recorded as the
        page's newest if it is."""
        page, seq = settings.get("page"), settings.get("seq")
        if isinstance(page, str) and page and type(seq) is int:
            key, number = f"page {page[:64]}", seq
        else:
            key, number = "", arrival
        self._newest[key] = max(self._newest.pop(key, number), number)
        while len(self._newest) > PREVIEW_PAGES:
            self._newest.popitem(last=False)
        return key, number

    def overtaken(self, place: tuple[str, int]) -> bool:
        """Whether a newer preview from the same page has arrived since this one."""
        key, number = place
        return self._newest.get(key, number) > number

    @property
    def lock(self) -> asyncio.Lock:
        """One stylization at a time (two would only share the cores). One lock per event loop:
        an asyncio lock belongs to the loop it first waited in, and tests start several loops."""
        return self._locks.setdefault(id(asyncio.get_running_loop()), asyncio.Lock())

    async def exclusive(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` in a worker thread, after any stylization already running."""
        async with self.lock:
            return await run_in_threadpool(fn, *args)


class ForeignOrigin(StyleFusionError):
    """A request sent by a page from another site (a browser adds its Origin)."""


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARD_ADDRESSES = frozenset({"0.0.0.0", "::", ""})


def host_name(header: str) -> str:
    """``Host`` header → the bare host: ``[::1]:8765`` → ``::1``, ``LocalHost.:80`` → ``localhost``."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].partition("]")[0]
    name, sep, port = header.rpartition(":")
    return (name if sep and port.isdigit() else header).rstrip(".")


def allowed_hosts(bound: str) -> Callable[[str], bool]:
    """Which ``Host`` names the app answers to when listening on address ``bound``: this
    machine's loopback names and the bound address. Bound to every address (0.0.0.0, the page
    opened to the network), any IP address too: a DNS-rebinding page reaches the app under a
    name of its own, never under an IP address."""
    names = LOOPBACK_HOSTS | {host_name(f"[{bound}]" if ":" in bound else bound)}
    wildcard = bound in WILDCARD_ADDRESSES

    def allowed(name: str) -> bool:
        if name in names:
            return True
        if wildcard:
            with contextlib.suppress(ValueError):
                ipaddress.ip_address(name)
                return True
        return False

    return allowed


class HostPolicy:
    """The ``Host`` names the app answers to: unchecked until the server is bound
    (``limit_hosts``); an app driven in-process (tests, benchmarks) has no socket to protect."""

    def __init__(self) -> None:
        self.allowed: Callable[[str], bool] | None = None


class HostCheck:
    """ASGI middleware: refuse every request whose ``Host`` names this machine by a name it was
    not opened under. A page on evil.example whose DNS answer is switched to 127.0.0.1 (DNS
    rebinding) passes the Origin check, since to the browser the app then is evil.example, but
    its requests still say ``Host: evil.example``."""

    def __init__(self, app: Callable[..., Any], policy: HostPolicy):
        self.app, self.policy = app, policy

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any],
                       send: Callable[..., Any]) -> None:
        allowed = self.policy.allowed
        if scope["type"] == "http" and allowed is not None:
            header = dict(scope.get("headers") or []).get(b"host")
            name = host_name(header.decode("latin-1")) if header is not None else None
            if name is not None and not allowed(name):
                port = (scope.get("server") or ("", "PORT"))[1]
                response = JSONResponse(
                    {"error": f"this app does not answer to the name {name!r}: open it at "
                              f"http://127.0.0.1:{port}/ (or the address it was started on)"},
                    status_code=403)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def limit_hosts(app: Starlette, bound: str) -> None:
    """Answer only to the ``Host`` names ``allowed_hosts(bound)`` permits (see ``HostCheck``)."""
    app.state.host_policy.allowed = allowed_hosts(bound)


def _state(request: Request) -> AppState:
    return request.app.state.stylefusion


def _check_origin(request: Request) -> None:
    """Refuse uploads and renders that another site's page makes the browser send: a form POST
    to 127.0.0.1 needs no permission from us, so without this any web page could keep the CPU
    busy. Requests without an Origin (curl, scripts) are the user's own."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise ForeignOrigin(f"requests from {origin} are refused: open the app's own page")


async def index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def model_info(request: Request) -> Response:
    state = _state(request)
    return JSONResponse({
        "title": state.title, "styles": list(state.generator.style_names),
        "encoder": state.encoder is not None, "textures": state.generator.textures is not None,
        "texture": state.generator.config.texture, "max_texture": SETTING_BOUNDS["texture"].high,
        "preview_side": state.limits.preview_side,
        "max_upload_bytes": state.limits.max_upload_bytes, "max_pixels": state.limits.max_pixels,
        "colors": list(COLOR_CHOICES), "softness": DEFAULT_SOFTNESS, "max_softness": MAX_SOFTNESS})


def _add_photo(state: AppState, name: str, data: bytes) -> Photo:
    photo = state.session.add_photo(name, data)
    if state.encoder is not None:
        # The photo's own style row (strength below 1), predicted now while the page waits for
        # the upload anyway, rather than on the first move of the strength slider.
        content_row(state.encoder, photo.preview)
    return photo


async def add_photo(request: Request) -> Response:
    _check_origin(request)
    state = _state(request)
    upload = (await read_form(request, state.limits.max_upload_bytes)).file("file")
    photo = await state.exclusive(_add_photo, state, upload.filename or "photo", upload.data)
    h, w = photo.preview.shape[:2]
    return JSONResponse({"id": photo.id, "name": photo.name, "width": photo.size[0], "height": photo.size[1],
                         "preview_width": w, "preview_height": h})


async def photo_backdrop(request: Request) -> Response:
    """The photo's preview copy, upright (EXIF applied), for the page to paint on."""
    photo = _state(request).session.photo(request.path_params["photo_id"])
    data = await run_in_threadpool(encode_image, photo.preview, "JPEG")
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


async def add_style_image(request: Request) -> Response:
    _check_origin(request)
    state = _state(request)
    if state.encoder is None:
        raise ConfigError("this model has no style encoder, so it cannot take style images")
    upload = (await read_form(request, state.limits.max_upload_bytes)).file("file")
    style = await state.exclusive(state.session.add_style_image, upload.filename or "style", upload.data,
                                  state.encoder)
    return JSONResponse({"id": style.id, "name": style.name})


async def _job_form(request: Request) -> tuple[dict[str, Any], list[bytes]]:
    _check_origin(request)
    form = await read_form(request, _state(request).limits.max_upload_bytes)
    return form.json("settings"), [p.data for p in form.files("mask")]


def _preview_png(state: AppState, settings: dict[str, Any], masks: list[bytes]) -> bytes:
    job = parse_job(settings, masks, state.session, state.generator, state.encoder, state.masks)
    return png_bytes(stylize_preview(state.generator_for(job), job), fast=True)


def _render_png(state: AppState, settings: dict[str, Any], masks: list[bytes]) -> tuple[str, bytes]:
    job = parse_job(settings, masks, state.session, state.generator, state.encoder, state.masks)

    def report(stage: str, done: int, total: int) -> None:
        state.render_progress = {"stage": stage, "done": done, "total": total}

    try:
        with reporting_progress(report):
            picture = stylize_full(state.generator_for(job), job)
        state.render_progress = {"stage": "encoding", "done": 0, "total": 0}
        return job.photo.name, png_bytes(picture)
    finally:
        state.render_progress = dict(IDLE)


async def render_progress(request: Request) -> Response:
    """How far the full-size render is: its stage ("statistics" or "tiles", tiles done of
    total; "encoding" the PNG), or stage "" when none runs."""
    return JSONResponse(_state(request).render_progress)


async def preview(request: Request) -> Response:
    state = _state(request)
    state.latest_preview += 1
    arrival = state.latest_preview
    settings, masks = await _job_form(request)
    place = state.preview_place(settings, arrival)
    async with state.lock:
        if state.overtaken(place):
            return Response(status_code=204)  # a newer preview is waiting: skip this one
        loop = asyncio.get_running_loop()
        start = loop.time()
        data = await run_in_threadpool(_preview_png, state, settings, masks)
        ms = (loop.time() - start) * 1000
    return Response(data, media_type="image/png", headers={"X-Render-Ms": f"{ms:.0f}"})


def _png_download(data: bytes, filename: str) -> Response:
    # Sent in pieces from memory: nothing is written to disk.
    chunks = (data[i:i + STREAM_CHUNK] for i in range(0, len(data), STREAM_CHUNK))
    return StreamingResponse(chunks, media_type="image/png", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename, safe='')}",
        "Content-Length": str(len(data))})


async def render(request: Request) -> Response:
    state = _state(request)
    settings, masks = await _job_form(request)
    name, data = await state.exclusive(_render_png, state, settings, masks)
    return _png_download(data, f"{Path(name).stem or 'photo'}_stylized.png")


def _best_png(state: AppState, settings: dict[str, Any]) -> tuple[str, bytes]:
    photo, painting, style = best_quality_job(settings, state.session, state.generator)
    return f"{Path(photo.name).stem or 'photo'}__{Path(style).stem}_best.png", png_bytes(render_best(photo, painting))


async def render_best_quality(request: Request) -> Response:
    state = _state(request)
    settings, _ = await _job_form(request)
    filename, data = await state.exclusive(_best_png, state, settings)
    return _png_download(data, filename)


async def user_error(request: Request, exc: Exception) -> Response:
    status = {UploadTooLarge: 413, UnknownUpload: 404, ForeignOrigin: 403}.get(type(exc), 400)
    return JSONResponse({"error": str(exc)}, status_code=status)


async def unexpected_error(request: Request, exc: Exception) -> Response:
    # Starlette re-raises the exception after this response, so uvicorn logs its traceback.
    return JSONResponse({"error": f"unexpected error ({type(exc).__name__}); the details are in the "
                                  "terminal running `stylefusion app`"}, status_code=500)


def create_app(generator: StyleFusionGenerator, encoder: StyleEncoder | None = None, *,
               limits: Limits | None = None, title: str = "tf_stylefusion") -> Starlette:
    """The app for one loaded model (``encoder`` enables strength and style images). Its uploads
    live in a temporary folder that is removed when the app shuts down."""
    state = AppState(generator, encoder, limits or Limits(), title)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        try:
            yield
        finally:
            state.session.close()

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/api/model", model_info),
            Route("/api/photos", add_photo, methods=["POST"]),
            Route("/api/photos/{photo_id}/backdrop.jpg", photo_backdrop),
            Route("/api/styles", add_style_image, methods=["POST"]),
            Route("/api/preview", preview, methods=["POST"]),
            Route("/api/render", render, methods=["POST"]),
            Route("/api/render/progress", render_progress),
            Route("/api/render-best", render_best_quality, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        exception_handlers={StyleFusionError: user_error, Exception: unexpected_error},
        lifespan=lifespan)
    app.state.stylefusion = state
    app.state.host_policy = HostPolicy()
    app.add_middleware(HostCheck, policy=app.state.host_policy)
    return app


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free port). ConfigError when the address
    is taken or unknown, so the CLI says so in one line."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except OSError as e:
        raise ConfigError(f"--host {host}: not an address of this machine ({e.strerror or e})") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart need not wait for TIME_WAIT
        sock.bind((host, port))
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port} ({e.strerror or e}); pick another --port "
                          "(or --host)") from None
    return sock


def address(sock: socket.socket) -> str:
    """The page's URL for a bound socket."""
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


def _server(app: Starlette) -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))


def load_app(model: str | Path, *, limits: Limits | None = None) -> Starlette:
    """``create_app`` for a run folder or .keras file (its style encoder is loaded if it has one),
    warmed up so the first previews do not wait for TensorFlow's tracing."""
    generator = load_generator(model)
    encoder = load_style_encoder(model, generator)
    path = Path(model)
    title = "the ready-made style pack" if path.name == "pack" else (path.stem if path.suffix else path.name)
    app = create_app(generator, encoder, limits=limits, title=title)
    state = app.state.stylefusion
    for warmed in (generator, state.tiles_on):
        if warmed is not None:
            warm_up(warmed, state.encoder)
    return app


def serve(app: Starlette, sock: socket.socket, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve ``app`` on a socket from ``bind`` until interrupted; ``on_ready`` gets the page's URL."""
    limit_hosts(app, sock.getsockname()[0])
    server = _server(app)
    if on_ready is not None:
        on_ready(address(sock))
    with sock:
        server.run(sockets=[sock])


@contextlib.contextmanager
def background_server(app: Starlette, host: str = DEFAULT_HOST, port: int = 0) -> Iterator[str]:
    """Serve ``app`` in a thread (tests, screenshots); yields the page's URL, stops on exit."""
    sock = bind(host, port)
    limit_hosts(app, sock.getsockname()[0])
    server = _server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.01)
        if not server.started:
            raise RuntimeError("the app's server did not start")
        yield address(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
