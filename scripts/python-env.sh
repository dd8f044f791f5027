#!/usr/bin/env bash
# Creates (or reuses) a Python virtual environment under build/venvs/NAME with the pinned
# packages of one requirements file, and prints the environment's python on stdout.
# Test and benchmark tools from the Python package index live there, never in the product.
# Usage: scripts/python-env.sh NAME REQUIREMENTS_FILE
#   e.g. py=$(scripts/python-env.sh keras tests/keras/requirements.txt)
# An environment is rebuilt only when its requirements file changed (a stamp holds its hash);
# concurrent callers are serialised by a lock file beside it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
name=${1:?usage: python-env.sh NAME REQUIREMENTS_FILE}
requirements=$(realpath "${2:?usage: python-env.sh NAME REQUIREMENTS_FILE}")
venv="$repo/build/venvs/$name"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$requirements" | cut -d' ' -f1)

# Tests that share an environment run in parallel (ctest -j): one creates it, the others wait.
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9

if [[ -x $venv/bin/python && -f $stamp && $(cat "$stamp") == "$want" ]]; then
  echo "$venv/bin/python"
  exit 0
fi
# Prefer a python3 that has the venv module (pyenv's does; Debian's needs python3-venv).
python=""
for candidate in python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import venv, ensurepip' 2>/dev/null; then
    python=$candidate
    break
  fi
done
[[ -n $python ]] || { echo "python-env.sh: no python3 with venv/ensurepip (apt-get install python3-venv)" >&2; exit 1; }
{
  echo "python-env: creating $venv from $requirements with $($python --version)"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
} >&2
echo "$want" > "$stamp"
echo "$venv/bin/python"
