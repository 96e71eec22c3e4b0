# Helpers sourced by the scripts in this folder: every tool a script assumes is checked first,
# with one line saying what to install, and the Python packages live in virtual environments
# under target/ (never in the user's own Python).

# need CMD HINT: fail with a one-line message when CMD is not on PATH.
need() {
  command -v "$1" >/dev/null 2>&1 || { echo "error: '$1' not found: $2" >&2; exit 1; }
}

# need_python: python3 ≥ 3.9 with the standard `venv` module (Debian ships it apart).
need_python() {
  need python3 "install Python 3.9 or newer (Debian/Ubuntu: apt-get install python3 python3-venv)"
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 9))' \
    || { echo "error: $(python3 --version 2>&1) is too old: Python 3.9 or newer is needed" >&2; exit 1; }
}

# venv DIR REQUIREMENTS: a virtual environment at DIR holding exactly what REQUIREMENTS pins,
# created or updated when the requirements change (a copy of them inside DIR is the stamp).
# Prints nothing when it is already current.
venv() {
  local dir=$1 req=$2
  need_python
  if [ ! -x "$dir/bin/python" ]; then
    python3 -c 'import ensurepip, venv' 2>/dev/null || {
      echo "error: this python3 cannot create virtual environments: install its venv module" \
           "(Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 1; }
    echo "creating the Python environment $dir" >&2
    python3 -m venv "$dir"
  fi
  if ! cmp -s "$req" "$dir/requirements.txt"; then
    echo "installing $req into $dir" >&2
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    cp "$req" "$dir/requirements.txt"
  fi
}

# need_modules HINT MODULE...: python3 can import every MODULE, or fail with HINT.
need_modules() {
  local hint=$1; shift
  need_python
  local m
  for m in "$@"; do
    python3 -c "import $m" 2>/dev/null || { echo "error: python3 cannot import '$m': $hint" >&2; exit 1; }
  done
}
