# Sourced by the device scripts: makes `import ponder` work from this checkout without installing it.
# A temporary folder of links gives the checkout its installed layout (ponder.data -> data/ and so on,
# as pyproject.toml maps it) and goes first on PYTHONPATH; it is removed when the shell exits.
# Needs the shell's working directory to be the checkout's root.
ponder_shim=$(mktemp -d)
trap 'rm -rf "$ponder_shim"' EXIT
mkdir "$ponder_shim/ponder"
for entry in ponder/*; do ln -s "$PWD/$entry" "$ponder_shim/ponder/"; done
for folder in data infer train configs; do ln -s "$PWD/$folder" "$ponder_shim/ponder/$folder"; done
export PYTHONPATH="$ponder_shim${PYTHONPATH:+:$PYTHONPATH}"
