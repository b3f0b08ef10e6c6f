# The end-to-end stack's base: the CUDA base's runtime stage on a small Debian image instead of
# NVIDIA's, with the real cache-aware entrypoint (the build context is images/cuda-base). Nothing is
# installed while building: python3 and tini are in the upstream image, so no build needs the network.
ARG REGISTRY_MIRROR=docker.io
FROM ${REGISTRY_MIRROR}/library/debian:bookworm AS runtime
RUN groupadd --gid 10001 app && useradd --uid 10001 --gid app --create-home --shell /usr/sbin/nologin app \
    && mkdir -p /models /tmp/warmstart-models && chown app:app /tmp/warmstart-models
COPY --chmod=0755 entrypoint.sh /usr/local/bin/warmstart-entrypoint
ENV MODEL_CACHE_PATH=/models \
    SHARED_MODEL_VOLUME_ENABLED=true \
    HF_HUB_CACHE=/models/huggingface/hub \
    SENTENCE_TRANSFORMERS_HOME=/models/sentence-transformers \
    OLLAMA_MODELS=/models/ollama
USER app
WORKDIR /home/app
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/warmstart-entrypoint"]
CMD ["python3", "--version"]
