"""HTTP service: POST /predict (image upload) -> faces as JSON, GET /healthz, GET / (a page to try it)."""
from __future__ import annotations

from importlib import resources

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from ..errors import FerxError
from ..inference.images import rgb_from_bytes
from ..inference.recognizer import EmotionRecognizer

MAX_BYTES = 10 * 1024 * 1024


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(recognizer: EmotionRecognizer | None = None, max_bytes: int = MAX_BYTES) -> FastAPI:
    """The app, with its recognizer loaded once here and shared by all requests."""
    rec = recognizer or EmotionRecognizer()
    page = (resources.files("ferx.serving") / "static" / "index.html").read_text()
    app = FastAPI(title="ferx", summary="Facial-expression recognition")

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page

    @app.post("/predict")
    async def predict(request: Request):
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            return error(413, f"upload of {int(declared)} bytes is over the {max_bytes}-byte limit")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_bytes:
                return error(413, f"upload is over the {max_bytes}-byte limit")
        data, name = bytes(body), "body"
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            request._body = data  # let Starlette parse the form from what was already read
            form = await request.form()
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                return error(422, "multipart upload needs a file field named 'file'")
            data, name = await upload.read(), upload.filename or "file"
        if not data:
            return error(422, "empty upload")
        return await run_in_threadpool(decode_and_predict, data, name)

    def decode_and_predict(data: bytes, name: str):
        try:
            rgb = rgb_from_bytes(data, name)
        except FerxError as exc:
            return error(415, str(exc))
        faces = rec.predict(rgb)
        return {"width": rgb.shape[1], "height": rgb.shape[0], "faces": [f.to_dict() for f in faces]}

    return app
