# storyclust: the REST API and the nightly re-clustering job (see docker-compose.yml).
# CPU only; the embedding model comes packaged from PyPI, so nothing is downloaded at run time.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# The CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

COPY pyproject.toml README.md ./
COPY service ./service
COPY seeds ./seeds
# Editable, so that seeds/ (the OpenAPI examples, `storyclust seeds`) is found beside the package.
RUN pip install -e .

RUN useradd --create-home --uid 10001 storyclust && mkdir /data && chown storyclust /data
USER storyclust
VOLUME /data
EXPOSE 8000
CMD ["storyclust", "serve", "--host", "0.0.0.0", "--port", "8000", "--data-dir", "/data"]
