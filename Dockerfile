# The ci-triage GitHub Action image (a Docker container action, see action.yml).
#
#   docker build -t ci-triage .
#   docker run --rm -e GITHUB_EVENT_NAME=... -e INPUT_GITHUB-TOKEN=... ci-triage
#
# Two stages: the first installs the pinned wheels into a virtual environment, the second
# copies only that environment onto a fresh slim base. No compiler is ever installed
# (--only-binary), pip is removed from the final image, and the bot runs as an unprivileged
# user whose uid matches the GitHub-hosted runner's (1001), so it can append to the files
# the runner hands it (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY). Expected size: about 180 MB
# (python:3.11-slim is ~125 MB; the environment ~55 MB: cryptography, Hyperscan, pydantic-core, PyGithub).
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
COPY docker/requirements.txt /tmp/requirements.txt
RUN python -m venv /opt/ci-triage \
 && /opt/ci-triage/bin/pip install --only-binary=:all: -r /tmp/requirements.txt
COPY pyproject.toml README.md /src/
COPY bot /src/bot
RUN /opt/ci-triage/bin/pip install --no-deps /src \
 && /opt/ci-triage/bin/pip uninstall -y pip setuptools
# Validate the catalog and compile its Hyperscan prefilter once, at build time: every run of
# the image then loads both from the cache in milliseconds instead of compiling for seconds.
ENV CI_TRIAGE_CACHE_DIR=/opt/ci-triage/cache
RUN /opt/ci-triage/bin/ci-triage classify --no-config /dev/null

FROM python:3.11-slim-bookworm
COPY --from=build /opt/ci-triage /opt/ci-triage
RUN python -m pip uninstall -y pip setuptools wheel \
 && useradd --uid 1001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin triage
ENV PATH=/opt/ci-triage/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    CI_TRIAGE_CACHE_DIR=/opt/ci-triage/cache
USER 1001
ENTRYPOINT ["/opt/ci-triage/bin/ci-triage", "github"]
