FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY tracker ./tracker
COPY workers ./workers
COPY platform_adapters ./platform_adapters
RUN pip install . && useradd --system --uid 10001 tracker
USER tracker
EXPOSE 8000
CMD ["tracker", "serve", "--host", "0.0.0.0"]
