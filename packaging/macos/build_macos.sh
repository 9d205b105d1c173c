#!/usr/bin/env bash
# macOS app bundle and dmg (NOT built or tested on the Linux build machine).
# On a Mac (Apple silicon for MPS), with Python 3.11:
#   python3 -m pip install -e ".[package]"
#   bash packaging/macos/build_macos.sh
# produces dist/Stemforge.app and dist/stemforge-<version>-macos-<arch>.dmg.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=$(python3 -c "import core; print(core.__version__)")
arch=$(uname -m)
work=build/packaging-macos
rm -rf "$work" dist/Stemforge.app
python3 -m PyInstaller --noconfirm --clean --distpath "$work/dist" --workpath "$work/build" packaging/stemforge.spec
app=dist/Stemforge.app
mkdir -p "$app/Contents/MacOS" "$app/Contents/Resources"
cp -R "$work/dist/stemforge/" "$app/Contents/MacOS/"
# The GUI starts through a link named stemforge-gui (packaging/entry.py dispatches on the name).
ln -sf stemforge "$app/Contents/MacOS/stemforge-gui"
sips -s format icns resources/icons/stemforge-256.png --out "$app/Contents/Resources/stemforge.icns" >/dev/null
sed "s/@VERSION@/$version/g" packaging/macos/Info.plist > "$app/Contents/Info.plist"
# Ad-hoc signature so Gatekeeper runs it locally; distribute with a Developer ID and notarisation.
codesign --force --deep --sign - "$app"
hdiutil create -volname Stemforge -srcfolder "$app" -ov -format UDZO "dist/stemforge-$version-macos-$arch.dmg"
