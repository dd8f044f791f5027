#!/usr/bin/env bash
# Creates (or reuses) a Python virtual environment under build/venvs/NAME with the pinned
# packages of one requirements file, and prints the environment's python on stdout.
# Test and benchmark tools from the Python package index live there, never in the product.
# Usage: scripts/python-env.sh NAME REQUIREMENTS_FILE [PACKAGE_DIR]
#   e.g. py=$(scripts/python-env.sh keras tests/keras/requirements.txt)
# PACKAGE_DIR: a package of this repository (e.g. client/python), then installed into the
# environment with a plain `pip install PACKAGE_DIR`, as its users do.
# An environment is rebuilt only when its requirements file changed (a stamp holds its hash);
# the package is reinstalled only when its files or proto/ (which its build reads) changed.
# Concurrent callers are serialised by a lock file beside it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: python-env.sh NAME REQUIREMENTS_FILE [PACKAGE_DIR]"
name=${1:?$usage}
requirements=$(realpath "${2:?$usage}")
package=${3:+$(realpath "$3")}
venv="$repo/build/venvs/$name"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$requirements" | cut -d' ' -f1)

# Tests that share an environment run in parallel (ctest -j): one creates it, the others wait.
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9

# The package's sources (not what its in-place build leaves beside them) and proto/.
package_hash() {
  find "$package" "$repo/proto" -type f ! -path '*/build/*' ! -path '*.egg-info/*' \
    ! -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
}
install_package() {
  [[ -n $package ]] || return 0
  local package_stamp="$venv/.package.sha256" have
  have=$(package_hash)
  [[ -f $package_stamp && $(cat "$package_stamp") == "$have" ]] && return 0
  echo "python-env: installing $package into $venv" >&2
  "$venv/bin/python" -m pip uninstall --quiet --disable-pip-version-check --yes \
    "$(sed -n 's/^name = "\(.*\)"/\1/p' "$package/pyproject.toml")" >&2 2>/dev/null || true
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$package" >&2
  echo "$have" > "$package_stamp"
}

if [[ -x $venv/bin/python && -f $stamp && $(cat "$stamp") == "$want" ]]; then
  install_package
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
rm -f "$venv/.package.sha256"
install_package
echo "$venv/bin/python"
