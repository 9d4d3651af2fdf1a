# pack.sh SRC, on the control node: the host's rendered tree as the release it gets. Prints the
# release's name (16 hex digits of a sha256 over every file's path and content: the same tree,
# the same release) on the first line, then the tree as a base64 gzip tar on the second.
set -eu
src=$1
if [ ! -f "$src/nginx.conf" ]; then
  echo "no rendered nginx.conf at $src: run render for this stage first" >&2
  exit 3
fi
cd "$src"
find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16
find . -type f -print0 | LC_ALL=C sort -z | tar -cz --null --no-recursion --owner=0 --group=0 -T - | base64 -w0
echo
