# The one image behind web, worker, beat and migrate in docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, in a layer of their own, so a change to the code does not
# reinstall them. pyproject.toml declares no packages: `pip install .` brings only the
# pinned dependencies, and the code is copied in as it is.
COPY pyproject.toml ./
RUN pip install . && rm -rf build *.egg-info

COPY . .

# Static files are part of the image (WhiteNoise serves them), with their contents' hash
# in their names (config/storage.py): browsers keep them for a year. The server reads the
# same STATIC_HASHED to ask for those names. collectstatic reads the settings, which want
# a SECRET_KEY; this one exists only during this build step.
ENV STATIC_HASHED=1
RUN SECRET_KEY=collectstatic-only-not-a-secret python manage.py collectstatic --noinput

# The code and static files stay owned by root: the server can read them, not change them.
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin tongxin
USER tongxin

EXPOSE 8000

# docker-compose.yml gives each service its own command; this default is the web server.
CMD ["uvicorn", "config.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers", "--lifespan", "off"]
