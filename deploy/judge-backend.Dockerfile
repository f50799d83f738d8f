# A small OpenAI-compatible judge server for docker-compose.yml's `judge-backend` profile: `transformers serve`
# (transformers and torch as pinned in requirements.lock) on the CPU, serving a model folder mounted at
# /models/judge. For judges of real size use vLLM on a GPU and point the backends file at it instead.
#
#   docker compose --profile judge --profile judge-backend up -d --build
#   docker build -f deploy/judge-backend.Dockerfile -t rlvr-judge-backend:local .
#
# torch comes from TORCH_INDEX_URL (default: PyTorch's CPU-only index; PyPI's Linux wheels are CUDA builds of
# several GB). Without that index: put torch's CPU wheel (or every wheel) in deploy/wheels/ (git ignores *.whl
# there) and build with --build-arg TORCH_INDEX_URL= ; pip looks there first. Extra CAs: deploy/certs/, as for deploy/Dockerfile; neither folder's
# files reach the final image.

# ---- build: the server's venv ---------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm AS build

ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG PIP_INDEX_URL
ARG PIP_TRUSTED_HOST
ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PATH=/opt/judge/venv/bin:$PATH
WORKDIR /opt/judge

COPY deploy/certs/ /tmp/extra-ca/
COPY deploy/wheels/ /tmp/wheels/
COPY requirements.lock ./
RUN python -m venv /opt/judge/venv \
    && extra=$(find /tmp/extra-ca -maxdepth 1 -type f \( -name '*.crt' -o -name '*.pem' \) | sort) \
    && if [ -n "$extra" ]; then \
         base=/etc/ssl/certs/ca-certificates.crt; \
         [ -s "$base" ] || base=$(python -c 'from pip._vendor import certifi; print(certifi.where())'); \
         cat "$base" $extra >/opt/judge/pip-ca.pem; \
         printf '[global]\ncert = /opt/judge/pip-ca.pem\n' >/etc/pip.conf; \
       fi
# torch (CPU) first: the big layer, rebuilt only when the lock changes
RUN torch=$(grep -E '^torch==' requirements.lock) \
    && pip install --find-links /tmp/wheels ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"} \
         --constraint requirements.lock "$torch"
# transformers with what `transformers serve` needs (its serving extra; accelerate for --device)
RUN pip install --find-links /tmp/wheels --constraint requirements.lock \
         "$(grep -E '^transformers==' requirements.lock)" accelerate fastapi uvicorn openai rich pydantic \
    && transformers serve --help >/dev/null \
    && rm -rf /tmp/extra-ca /tmp/wheels

# ---- the server image -----------------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    PATH=/opt/judge/venv/bin:$PATH
COPY --from=build /opt/judge/venv /opt/judge/venv
RUN groupadd --gid 10001 judge \
    && useradd --uid 10001 --gid 10001 --no-log-init --create-home --home-dir /home/judge --shell /usr/sbin/nologin judge
USER judge
EXPOSE 8000
ENTRYPOINT ["transformers"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--device", "cpu", "/models/judge"]
