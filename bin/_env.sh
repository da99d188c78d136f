# Sourced by bin/run and bin/test: a virtualenv in .venv with requirements.txt installed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# Reinstall only when requirements.txt changed since the last install.
if [ ! -f .venv/.requirements.txt ] || ! cmp -s requirements.txt .venv/.requirements.txt; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
    cp requirements.txt .venv/.requirements.txt
fi
export PATH="$PWD/.venv/bin:$PATH"
mkdir -p var
