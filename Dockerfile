FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY tracker ./tracker
COPY workers ./workers
COPY platform_adapters ./platform_adapters
# pdqhash (PDQ for content matching) is built from its source: a compiler for the build only.
RUN apt-get update && apt-get install -y --no-install-recommends g++ \
    && pip install . \
    && apt-get purge -y g++ && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 tracker
USER tracker
EXPOSE 8000
CMD ["tracker", "serve", "--host", "0.0.0.0"]
