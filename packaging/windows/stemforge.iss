; Inno Setup script for Stemforge on Windows (NOT built or tested on the Linux build machine).
; Prerequisite: on Windows, `pip install -e ".[package]"` then
;   pyinstaller --noconfirm --clean packaging\stemforge.spec
; which leaves the one-folder app in dist\stemforge\. Then compile this script:
;   iscc packaging\windows\stemforge.iss
#define AppVersion GetEnv("STEMFORGE_VERSION")
#if AppVersion == ""
  #define AppVersion "0.1.0"
#endif

[Setup]
AppId={{6B1C3C5E-5F0E-4E8A-9F57-2B3C5D1E7A10}
AppName=Stemforge
AppVersion={#AppVersion}
AppPublisher=Stemforge
DefaultDirName={autopf}\Stemforge
DefaultGroupName=Stemforge
OutputDir=..\..\dist
OutputBaseFilename=stemforge-{#AppVersion}-windows-x86_64-setup
Compression=lzma2/ultra64
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
ChangesAssociations=yes

[Files]
Source: "..\..\dist\stemforge\*"; DestDir: "{app}"; Flags: recursesubdirs createallsubdirs ignoreversion

[Icons]
Name: "{group}\Stemforge"; Filename: "{app}\stemforge.exe"; Parameters: "gui"
Name: "{autodesktop}\Stemforge"; Filename: "{app}\stemforge.exe"; Parameters: "gui"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked
Name: "addtopath"; Description: "Add the stemforge command line to PATH"; Flags: unchecked

[Registry]
; "Open with Stemforge" for common audio types.
Root: HKA; Subkey: "Software\Classes\Applications\stemforge.exe\shell\open\command"; ValueType: string; ValueData: """{app}\stemforge.exe"" gui ""%1"""; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\.wav\OpenWithList\stemforge.exe"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\.flac\OpenWithList\stemforge.exe"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\.mp3\OpenWithList\stemforge.exe"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\.ogg\OpenWithList\stemforge.exe"; Flags: uninsdeletekey
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Tasks: addtopath; Check: NeedsAddPath(ExpandConstant('{app}'))

[Run]
Filename: "{app}\stemforge.exe"; Parameters: "gui"; Description: "Start Stemforge"; Flags: nowait postinstall skipifsilent

[Code]
function NeedsAddPath(Param: string): boolean;
var
  OrigPath: string;
begin
  if not RegQueryStringValue(HKEY_CURRENT_USER, 'Environment', 'Path', OrigPath) then
  begin
    Result := True;
    exit;
  end;
  Result := Pos(';' + Param + ';', ';' + OrigPath + ';') = 0;
end;
