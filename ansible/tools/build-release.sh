#!/usr/bin/env bash
# Builds the herald release bundle that the herald_release role installs on nodes:
#   herald-VERSION-linux-ARCH-nodeMAJOR.tar.gz  →  herald-VERSION/{package.json,dist/,config/,exabgp/,node_modules/}
# The files are exactly what `npm pack` ships (package.json "files"), plus the production
# dependencies, so a PoP node needs Node.js and nothing from a registry. better-sqlite3 is a
# native module: build on the same CPU architecture and Node.js major version as the nodes.
#
# Usage: ansible/tools/build-release.sh [--ref GIT-REF | --worktree] [--out DIR] [--allow-type-errors]
#   --ref REF    build from a commit (default HEAD): a release is a commit, not a dirty tree
#   --worktree   build from the working tree instead (tracked and untracked, not ignored files)
#   --out DIR    where to write the bundle (default: the current directory)
#   --allow-type-errors  keep going when tsc reports errors (development snapshots and tests
#                whose subject is the deployment, not the types; npm test type-checks)
# Prints the bundle's path on stdout. Works offline: the production node_modules are the
# checkout's own node_modules (from `npm ci`) pruned with `npm prune --omit=dev --offline`.
set -euo pipefail

ref=HEAD
worktree=false
strict=true
out=$PWD
while [ $# -gt 0 ]; do
  case "$1" in
    --ref) ref=${2:?--ref needs a git ref}; shift 2 ;;
    --worktree) worktree=true; shift ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --allow-type-errors) strict=false; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-release: unknown argument \"$1\" (see --help)" >&2; exit 2 ;;
  esac
done

repo=$(cd "$(dirname "$0")/../.." && pwd)
if [ ! -d "$repo/node_modules/typescript" ]; then
  echo "build-release: expected $repo/node_modules with dev dependencies (run npm ci first)" >&2
  exit 1
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/herald-release.XXXXXX")
trap 'rm -rf "$work"' EXIT

# 1. The sources, as committed (or as in the working tree with --worktree).
mkdir "$work/src"
if $worktree; then
  (cd "$repo" && git ls-files -z --cached --others --exclude-standard) |
    (cd "$repo" && xargs -0 -r cp --parents -t "$work/src" 2>/dev/null || true)
else
  git -C "$repo" archive --format=tar "$ref" | tar -x -C "$work/src"
fi

# 2. Compile, then let npm decide which files belong in the package.
ln -s "$repo/node_modules" "$work/src/node_modules"
if ! (cd "$work/src" && "$repo/node_modules/.bin/tsc" -p tsconfig.build.json >"$work/tsc.log" 2>&1); then
  if $strict || [ ! -f "$work/src/dist/src/version.js" ]; then
    cat "$work/tsc.log" >&2
    echo "build-release: the TypeScript build failed (see above)" >&2
    exit 1
  fi
  echo "build-release: warning: tsc reported $(grep -c 'error TS' "$work/tsc.log") errors; continuing (--allow-type-errors)" >&2
fi
# The bundled `herald` command (dist/bin) and the dashboard page (dist/dashboard).
if ! (cd "$work/src" && node scripts/build-cli.mjs && node scripts/build-dashboard.mjs) >"$work/esbuild.log" 2>&1; then
  cat "$work/esbuild.log" >&2
  echo "build-release: bundling the CLI or the dashboard failed (see above)" >&2
  exit 1
fi
mkdir "$work/pack"
tarball=$(cd "$work/src" && npm pack --ignore-scripts --silent --pack-destination "$work/pack")
version=$(node -p "require('$work/src/package.json').version")

# 3. Unpack it and add the production dependencies.
mkdir "$work/stage"
tar -xzf "$work/pack/$tarball" -C "$work/stage"
bundle_dir="$work/stage/herald-$version"
mv "$work/stage/package" "$bundle_dir"
cp -a "$repo/node_modules" "$bundle_dir/node_modules"
cp "$work/src/package-lock.json" "$bundle_dir/package-lock.json"
(cd "$bundle_dir" && npm prune --omit=dev --offline --ignore-scripts --no-audit --no-fund --silent)
rm -f "$bundle_dir/package-lock.json"
rm -rf "$bundle_dir/node_modules/.cache"
find "$bundle_dir/node_modules" -mindepth 1 -type d -empty -delete

# 4. Check it runs, then pack it with stable ownership.
reported=$(cd "$work" && node "$bundle_dir/dist/bin/herald.js" --version)
if [ "$reported" != "$version" ]; then
  echo "build-release: expected the bundle to report version $version, received \"$reported\"" >&2
  exit 1
fi
arch=$(node -p 'process.arch')
major=$(node -p 'process.versions.node.split(".")[0]')
name="herald-$version-linux-$arch-node$major.tar.gz"
tar --owner=0 --group=0 --numeric-owner -czf "$work/$name" -C "$work/stage" "herald-$version"
mv "$work/$name" "$out/$name"
echo "$out/$name"
