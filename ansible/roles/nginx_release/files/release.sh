# release.sh ROOT NAME KEEP < base64 gzip tar, on the host: makes the rendered tree NAME live
# under ROOT in one remote call (a task per step costs about half a second each). The tree is
# unpacked beside the other releases and tested with nginx -t as it will run (its relative
# includes resolve against the -c file); only a tree nginx accepts is renamed into
# releases/NAME, so a release directory is always whole and tested. The live link is swapped by
# a rename, the live tree tested again and nginx reloaded; if that test fails the link goes
# back and nginx keeps serving what it has. Keeps the live, the previous and KEEP newest other
# releases. Prints "changed" when anything live changed. Exit 2: nginx rejected the tree.
set -eu
root=$1 name=$2 keep=$3
releases=$root/releases
mkdir -p "$releases"
# What an interrupted run left unpacked (one configure runs at a time: the run lock).
rm -rf "$releases"/.staging-*
# A name is the tree's content hash: an existing release is that tree, whole and tested.
if [ -d "$releases/$name" ]; then
  cat >/dev/null
else
  staging=$(mktemp -d "$releases/.staging-XXXXXX")
  trap 'rm -rf "$staging"' EXIT
  base64 -d | tar -xz -C "$staging" --no-same-owner
  chmod 0755 "$staging"
  if ! out=$(/usr/sbin/nginx -t -q -c "$staging/nginx.conf" 2>&1); then
    printf '%s\n' "$out" | sed "s|$staging|$releases/$name|g" >&2
    exit 2
  fi
  mv -T "$staging" "$releases/$name"
  trap - EXIT
fi

swap() { # swap LINK TARGET: point LINK at TARGET by a rename, never missing in between
  ln -sfn "$2" "$1.homeprod-new"
  mv -T "$1.homeprod-new" "$1"
}

changed=no
live=$(readlink "$root/current" || true)
if [ "$live" != "$releases/$name" ]; then
  [ -z "$live" ] || swap "$root/previous" "$live"
  swap "$root/current" "$releases/$name"
  changed=yes
fi
# Debian's unit starts nginx with /etc/nginx/nginx.conf; its relative includes resolve against
# /etc/nginx, so homeprod/ there follows the same live link.
for entry in nginx.conf homeprod; do
  if [ "$(readlink "/etc/nginx/$entry" || true)" != "$root/current/$entry" ]; then
    swap "/etc/nginx/$entry" "$root/current/$entry"
    changed=yes
  fi
done

if [ "$changed" = yes ] && ! out=$(/usr/sbin/nginx -t -q 2>&1); then
  [ -z "$live" ] || swap "$root/current" "$live"
  printf 'the live configuration failed nginx -t after the swap; the previous release is live again: %s\n' "$out" >&2
  exit 4
fi
if ! systemctl is-active --quiet nginx; then
  systemctl start nginx
  changed=yes
elif [ "$changed" = yes ]; then
  systemctl reload nginx
fi
systemctl is-enabled --quiet nginx || { systemctl enable --quiet nginx; changed=yes; }

previous=$(readlink "$root/previous" || true)
ls -1t "$releases" | while read -r old; do
  [ "$releases/$old" = "$releases/$name" ] || [ "$releases/$old" = "$previous" ] || echo "$old"
done | tail -n +"$((keep + 1))" | while read -r old; do rm -rf "${releases:?}/$old"; done

[ "$changed" = no ] || echo changed
