# Sourced by bin/followup and bin/test: make sure .venv holds this checkout, installed quietly.
# The stamp is the hash of pyproject.toml, so a changed dependency list reinstalls by itself.
VENV="${FOLLOWUP_VENV:-$ROOT/.venv}"

ensure_venv() {
    local want stamp="$VENV/.installed"
    want="$(python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$ROOT/pyproject.toml")"
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    # Two commands started together on a fresh clone (the demo and the tests) would otherwise
    # install into the same .venv at once and break each other's install. The second waits for
    # the first, then finds the environment ready. flock is util-linux; without it, no lock.
    mkdir -p "$VENV"
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$VENV/.setup.lock"
        flock 9
        if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
            exec 9>&-
            return 0
        fi
    fi
    echo "Setting up $VENV (first run only, about two minutes; details in $VENV/install.log)" >&2
    python3 -m venv "$VENV" || { echo "python3 -m venv failed: install Python 3.11+ with venv" >&2; exit 1; }
    if ! { "$VENV/bin/python" -m pip install --upgrade pip \
        && "$VENV/bin/python" -m pip install -e "$ROOT[test]"; } >"$VENV/install.log" 2>&1; then
        echo "Installing the project failed; the end of $VENV/install.log says why:" >&2
        tail -n 25 "$VENV/install.log" >&2
        exit 1
    fi
    echo "$want" >"$stamp"
    exec 9>&-
}
