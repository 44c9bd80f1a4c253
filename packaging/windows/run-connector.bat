@echo off
REM Starts the aicfo connector from this folder. Keep this window open (or minimised).
cd /d "%~dp0"
AICFOConnector.exe run
if errorlevel 1 pause
