"""The HTTP service: :func:`~avemotion.service.app.create_app` builds the ASGI application
(FastAPI on Starlette) that ``avemotion serve`` runs with uvicorn, and ``page.html`` is the web
page it serves at ``/``."""
