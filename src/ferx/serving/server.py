"""HTTP service: POST /predict (image upload) -> faces as JSON, GET /healthz, GET / (a page to try it).

POST /predict?explain=1 adds to each face "target" and "heatmap": its Grad-CAM map as 48 x 48 values in [0, 1]
whose cells span the face's box (inference/explain.py).
"""
from __future__ import annotations

import asyncio
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from . import MAX_CONCURRENT
from ..errors import FerxError, ImageTooLarge
from ..inference.images import decode, open_image
from ..inference.recognizer import EmotionRecognizer

MAX_BYTES = 10 * 1024 * 1024


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(recognizer: EmotionRecognizer | None = None, max_bytes: int = MAX_BYTES,
               max_concurrent: int = MAX_CONCURRENT) -> FastAPI:
    """The app, with its recognizer loaded once here and shared by all requests.

    Uploads over `max_bytes` or over the recognizer's `max_pixels` get 413; at most `max_concurrent` images
    are decoded and analysed at once, so memory stays bounded however many requests arrive.
    """
    rec = recognizer or EmotionRecognizer()
    slots = asyncio.Semaphore(max_concurrent)
    page = (resources.files("ferx.serving") / "static" / "index.html").read_text()
    app = FastAPI(title="ferx", summary="Facial-expression recognition")

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page

    @app.post("/predict")
    async def predict(request: Request, explain: bool = False):
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
        try:  # the header only: an image over the pixel limit is refused before it takes a slot or any memory
            img = await run_in_threadpool(open_image, data, name, rec.max_pixels)
        except ImageTooLarge as exc:
            return error(413, str(exc))
        except FerxError as exc:
            return error(415, str(exc))
        async with slots:
            return await run_in_threadpool(decode_and_predict, img, name, explain)

    def decode_and_predict(img, name: str, explain: bool = False):
        try:
            gray = decode(img, name, "L")  # the same pixels as the library's path for this image (to_gray)
        except FerxError as exc:
            return error(415, str(exc))
        faces = rec.explain(gray) if explain else rec.predict(gray)
        return {"width": gray.shape[1], "height": gray.shape[0], "faces": [f.to_dict() for f in faces]}

    return app
