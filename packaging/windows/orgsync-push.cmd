@echo off
rem Nightly orgsync push, run by the Task Scheduler (docs\windows.md).
rem Waits a random time of up to 4 hours, pushes the files that config.json
rem names, appends everything to the log and exits with orgsync's exit code.
setlocal
set "HERE=%~dp0"
set "LOG=%ProgramData%\orgsync\push.log"
if not exist "%ProgramData%\orgsync" mkdir "%ProgramData%\orgsync"

rem 0 to 14399 seconds: the pushes of many customers do not all start at 00:00.
set /a DELAY=%RANDOM% * 14400 / 32768
powershell.exe -NoProfile -NonInteractive -Command "Start-Sleep -Seconds %DELAY%"

echo == %DATE% %TIME% orgsync push (after %DELAY% s) >> "%LOG%"
"%HERE%orgsync.exe" push --config "%HERE%config.json" --wait --timeout 3000 --verbose >> "%LOG%" 2>&1
set RC=%ERRORLEVEL%
echo == %DATE% %TIME% exit %RC% >> "%LOG%"
exit /b %RC%
