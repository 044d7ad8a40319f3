# Installs viban for the current user on Windows: downloads the release's zip and
# SHA256SUMS, checks the zip against it, and puts viban.exe in
# %LOCALAPPDATA%\Programs\viban, on the user's PATH. Nothing is installed unless the
# checksum matches.
#
#   irm https://github.com/viban-dev/viban/releases/latest/download/install.ps1 | iex
#
# $env:VIBAN_DOWNLOAD_URL  where the release assets are (default: the latest release)
# $env:VIBAN_INSTALL_DIR   where viban.exe goes
#
# It runs in a script block of its own: under `iex` it would otherwise set the caller's
# $ErrorActionPreference, and a failure would close the caller's window.
& {
    $ErrorActionPreference = 'Stop'

    $base = if ($env:VIBAN_DOWNLOAD_URL) { $env:VIBAN_DOWNLOAD_URL } else { 'https://github.com/viban-dev/viban/releases/latest/download' }
    $dest = if ($env:VIBAN_INSTALL_DIR) { $env:VIBAN_INSTALL_DIR } else { Join-Path $env:LOCALAPPDATA 'Programs\viban' }
    $releases = 'https://github.com/viban-dev/viban/releases'

    function Fail($message) {
        throw "viban install: $message"
    }

    $arch = $env:PROCESSOR_ARCHITECTURE
    if ($arch -eq 'ARM64') {
        Write-Host 'viban install: Windows on ARM runs the x64 build through its emulation'
    } elseif ($arch -ne 'AMD64') {
        Fail "no Windows build for the $arch processor; see $releases"
    }
    $asset = 'viban-x86_64-pc-windows-msvc.zip'

    $work = Join-Path ([System.IO.Path]::GetTempPath()) ("viban-install-" + [guid]::NewGuid())
    New-Item -ItemType Directory -Path $work | Out-Null
    try {
        Write-Host "viban install: downloading $asset"
        try {
            Invoke-WebRequest -UseBasicParsing -Uri "$base/$asset" -OutFile (Join-Path $work $asset)
            Invoke-WebRequest -UseBasicParsing -Uri "$base/SHA256SUMS" -OutFile (Join-Path $work 'SHA256SUMS')
        } catch {
            Fail "could not download from $base ($($_.Exception.Message)); are you online?"
        }
        $line = Get-Content (Join-Path $work 'SHA256SUMS') | Where-Object { ($_ -split '\s+')[1] -in @($asset, "*$asset") } | Select-Object -First 1
        if (-not $line) { Fail "SHA256SUMS lists no $asset; nothing was installed" }
        $expected = ($line -split '\s+')[0].ToLower()
        $actual = (Get-FileHash -Algorithm SHA256 (Join-Path $work $asset)).Hash.ToLower()
        if ($expected -ne $actual) {
            Fail "the download does not match SHA256SUMS (expected $expected, got $actual); nothing was installed"
        }
        Expand-Archive -Path (Join-Path $work $asset) -DestinationPath (Join-Path $work 'unpacked')
        $exe = Join-Path $work 'unpacked\viban.exe'
        if (-not (Test-Path $exe)) { Fail "$asset holds no viban.exe; nothing was installed" }

        New-Item -ItemType Directory -Force -Path $dest | Out-Null
        Copy-Item $exe (Join-Path $dest 'viban.exe') -Force
        $userPath = [Environment]::GetEnvironmentVariable('Path', 'User')
        if (-not (($userPath -split ';') -contains $dest)) {
            $newPath = if ($userPath) { "$userPath;$dest" } else { $dest }
            [Environment]::SetEnvironmentVariable('Path', $newPath, 'User')
            Write-Host "viban install: added $dest to your PATH (open a new terminal to use it)"
        }
        Write-Host "viban install: installed to $(Join-Path $dest 'viban.exe')"
        Write-Host ''
        Write-Host 'Next:'
        Write-Host '  viban          start it (opens http://127.0.0.1:7777 in your browser)'
        Write-Host '  viban doctor   check git, gh and the coding agents'
    } finally {
        Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue
    }
}
