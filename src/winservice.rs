//! A program of this package as a Windows service: installed with the service control manager
//! (started at boot with no one logged in, restarted when it fails), started, stopped, removed,
//! and the dispatcher the service manager talks to once it starts the program. The appliance
//! (`server::winservice`) and the connector (`connector::service`) each describe their service
//! with a [`Spec`] and hand over the loop it runs until told to stop.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use windows_service::service::{
    ServiceAccess, ServiceAction, ServiceActionType, ServiceControl, ServiceControlAccept,
    ServiceErrorControl, ServiceExitCode, ServiceFailureActions, ServiceFailureResetPeriod,
    ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{
    self, ServiceControlHandlerResult, ServiceStatusHandle,
};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};

use crate::service_place::{self, Place};

/// Completes once when the service manager asks the service to stop, or Windows shuts down.
pub type StopSignal = oneshot::Receiver<()>;

/// The loop a service runs until its [`StopSignal`]. Returns the exit code: 0 after a stop; any
/// other code is a failure, and the service manager restarts the service (failure actions).
pub type Serve = fn(StopSignal) -> u32;

/// What the service manager knows a service by.
pub struct Spec {
    /// The service's name (`sc query NAME`).
    pub name: &'static str,
    pub display_name: &'static str,
    pub description: &'static str,
}

/// `PROGRAM service ACTION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Install,
    Uninstall,
    Start,
    Stop,
    Status,
    /// What the service manager starts the program with; not for people.
    Run,
}

/// The arguments the service manager starts the program with.
pub const RUN_ARGS: [&str; 2] = ["service", "run"];

impl Action {
    pub fn parse(word: &str) -> Result<Action, String> {
        Ok(match word {
            "install" => Action::Install,
            "uninstall" => Action::Uninstall,
            "start" => Action::Start,
            "stop" => Action::Stop,
            "status" => Action::Status,
            "run" => Action::Run,
            other => {
                return Err(format!(
                "`{other}` is not a service action: use install, uninstall, start, stop or status"
            ))
            }
        })
    }
}

/// How long `start` and `stop` wait for the service to get there.
const STATE_WAIT: Duration = Duration::from_secs(60);

/// Restart 10 s after the first and second failure, a minute after later ones; a day without
/// failure starts the count again.
fn failure_actions() -> ServiceFailureActions {
    let restart = |secs| ServiceAction {
        action_type: ServiceActionType::Restart,
        delay: Duration::from_secs(secs),
    };
    ServiceFailureActions {
        reset_period: ServiceFailureResetPeriod::After(Duration::from_secs(24 * 3600)),
        reboot_msg: None,
        command: None,
        actions: Some(vec![restart(10), restart(10), restart(60)]),
    }
}

/// A sentence for a failed call to the service manager, with the advice that fits.
fn explain(spec: &Spec, doing: &str, e: windows_service::Error) -> String {
    const ACCESS_DENIED: i32 = 5;
    const SERVICE_DOES_NOT_EXIST: i32 = 1060;
    const SERVICE_EXISTS: i32 = 1073;
    const NOT_STARTED_BY_SERVICE_MANAGER: i32 = 1063;
    let name = spec.name;
    let windows_service::Error::Winapi(io) = &e else {
        return format!("cannot {doing} the service {name}: {e}");
    };
    match io.raw_os_error() {
        Some(ACCESS_DENIED) => format!(
            "cannot {doing} the service {name}: access denied; run this in a Command Prompt opened with \"Run as administrator\""
        ),
        Some(SERVICE_DOES_NOT_EXIST) => format!("the service {name} is not installed"),
        Some(SERVICE_EXISTS) => format!(
            "the service {name} is already installed; `service uninstall` first to install it again"
        ),
        Some(NOT_STARTED_BY_SERVICE_MANAGER) => {
            "`service run` is what Windows starts the service with; use `service start` instead"
                .to_string()
        }
        _ => format!("cannot {doing} the service {name}: {io}"),
    }
}

fn manager(spec: &Spec, access: ServiceManagerAccess) -> Result<ServiceManager, String> {
    ServiceManager::local_computer(None::<&str>, access)
        .map_err(|e| explain(spec, "reach the service manager for", e))
}

/// `doing` failed with `e`; the advice to run as administrator when it was refused.
fn io_sentence(doing: String, e: std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        format!("cannot {doing}: {e}; run this in a Command Prompt opened with \"Run as administrator\"")
    } else {
        format!("cannot {doing}: {e}")
    }
}

fn env_folder(name: &str, default: &str) -> PathBuf {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

/// The folders the service `spec` would be installed into ([`crate::service_place`]), checked
/// but not made: `%ProgramFiles%` is the machine's and no folder on the way is a redirection.
/// `data_dir` replaces the usual data folder.
pub fn plan_place(spec: &Spec, part: &str, data_dir: Option<PathBuf>) -> Result<Place, String> {
    if is_installed(spec) {
        return Err(format!(
            "the service {} is already installed; `service uninstall` first to install it again",
            spec.name
        ));
    }
    let program_files = env_folder("ProgramFiles", r"C:\Program Files");
    service_place::check_program_files(&program_files, &service_place::machine_program_files()?)?;
    let program_data = env_folder("ProgramData", r"C:\ProgramData");
    let mut place = service_place::place(spec.name, part, &program_files, &program_data);
    if let Some(dir) = data_dir {
        place.data_dir = dir;
    }
    service_place::refuse_redirects_on_the_way(&program_files, &place.program_dir)?;
    service_place::refuse_redirects_on_the_way(&program_data, &place.data_dir)?;
    Ok(place)
}

/// Makes the folders of `place`, taking `%ProgramData%\aicfo` over first when the data folder
/// is in it (its list decides who may add folders there).
pub fn make_place(place: &Place) -> Result<(), String> {
    let shared = env_folder("ProgramData", r"C:\ProgramData").join("aicfo");
    if place.data_dir.starts_with(&shared) {
        std::fs::create_dir_all(&shared)
            .map_err(|e| io_sentence(format!("create {}", shared.display()), e))?;
        service_place::run_steps(&shared, service_place::shared_steps(&shared))?;
    }
    for dir in [&place.program_dir, &place.data_dir] {
        std::fs::create_dir_all(dir)
            .map_err(|e| io_sentence(format!("create {}", dir.display()), e))?;
    }
    Ok(())
}

/// Copies the running program, and the files named in `beside` found beside it, into the
/// program folder; the program's new path. From the program folder itself nothing is copied.
pub fn copy_program(place: &Place, beside: &[&str]) -> Result<PathBuf, String> {
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot find this program's path to install it: {e}"))?;
    let (Some(from), Some(name)) = (exe.parent(), exe.file_name()) else {
        return Err(format!("cannot find the folder of {}", exe.display()));
    };
    let installed = place.program_dir.join(name);
    if service_place::same_folder(from, &place.program_dir) {
        return Ok(installed);
    }
    let names = std::iter::once(name).chain(beside.iter().map(std::ffi::OsStr::new));
    for name in names {
        let source = from.join(name);
        if source == exe || source.is_file() {
            let to = place.program_dir.join(name);
            std::fs::copy(&source, &to).map_err(|e| {
                io_sentence(format!("copy {} to {}", source.display(), to.display()), e)
            })?;
        }
    }
    Ok(installed)
}

/// Who may change the program and data folders: [`service_place::lock_down_steps`], with the
/// service account writing the program folder when `account_writes_program`.
pub fn lock_down(place: &Place, account_writes_program: bool) -> Result<(), String> {
    let program = service_place::program_grants(&place.account, account_writes_program);
    let program = service_place::lock_down_steps(&place.program_dir, &program);
    service_place::run_steps(&place.program_dir, program)?;
    let data = service_place::lock_down_steps(
        &place.data_dir,
        &service_place::data_grants(&place.account),
    );
    service_place::run_steps(&place.data_dir, data)
}

/// Registers `exe` (in its place's program folder) as the service, run as `account` and
/// started with [`RUN_ARGS`], then `launch_args`.
pub fn install(
    spec: &Spec,
    exe: &Path,
    account: &str,
    launch_args: Vec<OsString>,
) -> Result<String, String> {
    let mut arguments: Vec<OsString> = RUN_ARGS.iter().map(OsString::from).collect();
    arguments.extend(launch_args);
    let info = ServiceInfo {
        name: spec.name.into(),
        display_name: spec.display_name.into(),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: exe.to_path_buf(),
        launch_arguments: arguments,
        dependencies: vec![],
        // A virtual account: a standard user's rights, no password to keep.
        account_name: Some(account.into()),
        account_password: None,
    };
    let access = ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE;
    let service = manager(spec, access)?
        .create_service(
            &info,
            ServiceAccess::CHANGE_CONFIG | ServiceAccess::QUERY_CONFIG | ServiceAccess::DELETE,
        )
        .map_err(|e| explain(spec, "install", e))?;
    let restarts = match configure(spec, &service) {
        Ok(restarts) => restarts,
        Err(e) => {
            // Half a service is worse than none: take it out again.
            let _ = service.delete();
            return Err(e);
        }
    };
    let itself = match let_itself_restart(spec) {
        Ok(()) => String::new(),
        Err(e) => format!(
            "; WARNING: it cannot start itself again after an update ({e}), so it relies on being restarted when it fails"
        ),
    };
    Ok(format!(
        "installed the service {} ({}): {} starts at boot as {account}{}{itself}",
        spec.name,
        spec.display_name,
        exe.display(),
        if restarts {
            " and is restarted if it fails"
        } else {
            "; WARNING: this service manager cannot restart it when it fails (it does not take failure actions)"
        }
    ))
}

/// Lets the service's own SID start and stop it ([`service_place::sddl_letting_itself_restart`]):
/// the helper a connector service leaves behind after an update runs as that account.
fn let_itself_restart(spec: &Spec) -> Result<(), String> {
    let sc = |args: &[&str]| -> Result<String, String> {
        let out = std::process::Command::new(service_place::system_tool("sc.exe"))
            .args(args)
            .output()
            .map_err(|e| format!("cannot run sc.exe: {e}"))?;
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(said)
        } else {
            Err(format!("`sc.exe {}` says {}", args.join(" "), said.trim()))
        }
    };
    let sid = service_place::parse_service_sid(&sc(&["showsid", spec.name])?)
        .ok_or("sc.exe showsid names no service SID")?;
    let shown = sc(&["sdshow", spec.name])?;
    let sddl = shown
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("D:"))
        .and_then(|l| service_place::sddl_letting_itself_restart(l, &sid))
        .ok_or("sc.exe sdshow shows no access list")?;
    sc(&["sdset", spec.name, &sddl]).map(|_| ())
}

/// The description and the restart-on-failure actions. Whether the service manager took the
/// actions: Wine's answers ERROR_INVALID_LEVEL, which Windows (since Vista) never does.
fn configure(spec: &Spec, service: &windows_service::service::Service) -> Result<bool, String> {
    const INVALID_LEVEL: i32 = 124;
    service
        .set_description(spec.description)
        .map_err(|e| explain(spec, "describe", e))?;
    match service
        .update_failure_actions(failure_actions())
        .and_then(|()| service.set_failure_actions_on_non_crash_failures(true))
    {
        Ok(()) => Ok(true),
        Err(windows_service::Error::Winapi(io)) if io.raw_os_error() == Some(INVALID_LEVEL) => {
            Ok(false)
        }
        Err(e) => Err(explain(spec, "set the restart-on-failure actions of", e)),
    }
}

/// Waits until the service reaches `goal`; an error naming the state it stays in.
fn wait_for(
    spec: &Spec,
    service: &windows_service::service::Service,
    goal: ServiceState,
) -> Result<ServiceStatus, String> {
    let started = Instant::now();
    loop {
        let status = service
            .query_status()
            .map_err(|e| explain(spec, "query", e))?;
        if status.current_state == goal {
            return Ok(status);
        }
        if goal == ServiceState::Running && status.current_state == ServiceState::Stopped {
            return Err(format!(
                "the service {} stopped as it started ({}); see the logs in its data folder",
                spec.name,
                describe_exit(&status.exit_code)
            ));
        }
        if started.elapsed() > STATE_WAIT {
            return Err(format!(
                "the service {} is still {:?} after {} s",
                spec.name,
                status.current_state,
                STATE_WAIT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn describe_exit(code: &ServiceExitCode) -> String {
    match code {
        ServiceExitCode::Win32(0) => "no error".into(),
        ServiceExitCode::Win32(n) => format!("Windows error {n}"),
        ServiceExitCode::ServiceSpecific(n) => format!("exit code {n}"),
    }
}

fn open(spec: &Spec, access: ServiceAccess) -> Result<windows_service::service::Service, String> {
    manager(spec, ServiceManagerAccess::CONNECT)?
        .open_service(spec.name, access | ServiceAccess::QUERY_STATUS)
        .map_err(|e| explain(spec, "open", e))
}

/// Whether the service is installed on this computer (so its data folder is the one in use).
pub fn is_installed(spec: &Spec) -> bool {
    open(spec, ServiceAccess::QUERY_STATUS).is_ok()
}

pub fn start(spec: &Spec) -> Result<String, String> {
    let service = open(spec, ServiceAccess::START)?;
    if matches!(service.query_status(), Ok(s) if s.current_state == ServiceState::Running) {
        return Ok(format!("the service {} is already running", spec.name));
    }
    service
        .start::<&str>(&[])
        .map_err(|e| explain(spec, "start", e))?;
    wait_for(spec, &service, ServiceState::Running)?;
    Ok(format!("the service {} is running", spec.name))
}

fn stop_and_wait(spec: &Spec, service: &windows_service::service::Service) -> Result<(), String> {
    let state = service
        .query_status()
        .map_err(|e| explain(spec, "query", e))?
        .current_state;
    if state != ServiceState::Stopped {
        if state != ServiceState::StopPending {
            service.stop().map_err(|e| explain(spec, "stop", e))?;
        }
        wait_for(spec, service, ServiceState::Stopped)?;
    }
    Ok(())
}

pub fn stop(spec: &Spec) -> Result<String, String> {
    let service = open(spec, ServiceAccess::STOP)?;
    stop_and_wait(spec, &service)?;
    Ok(format!("the service {} is stopped", spec.name))
}

/// Stops the service if it runs, then removes it. Its program and data stay where they are:
/// the sentence names both folders, for whoever wants them gone.
pub fn uninstall(spec: &Spec) -> Result<String, String> {
    let service = open(
        spec,
        ServiceAccess::STOP | ServiceAccess::DELETE | ServiceAccess::QUERY_CONFIG,
    )?;
    let program = service.query_config().ok().and_then(|c| {
        let line = c.executable_path.to_string_lossy().into_owned();
        service_place::program_in_command_line(&line)
            .parent()
            .map(Path::to_path_buf)
    });
    stop_and_wait(spec, &service)?;
    service.delete().map_err(|e| explain(spec, "remove", e))?;
    let program = program
        .map(|p| format!("; its program is left in {}", p.display()))
        .unwrap_or_default();
    Ok(format!(
        "removed the service {}{program}; its data is left in place",
        spec.name
    ))
}

pub fn status(spec: &Spec) -> Result<String, String> {
    let service = open(spec, ServiceAccess::QUERY_CONFIG)?;
    let status = service
        .query_status()
        .map_err(|e| explain(spec, "query", e))?;
    let mut line = format!(
        "the service {} is installed and {}",
        spec.name,
        match status.current_state {
            ServiceState::Running => "running".to_string(),
            ServiceState::Stopped => format!("stopped ({})", describe_exit(&status.exit_code)),
            other => format!("{other:?}"),
        }
    );
    let restarts = service
        .get_failure_actions()
        .ok()
        .and_then(|f| f.actions)
        .is_some_and(|a| {
            a.iter()
                .any(|a| matches!(a.action_type, ServiceActionType::Restart))
        });
    line.push_str(if restarts {
        "; Windows restarts it if it fails"
    } else {
        "; no restart on failure is set"
    });
    if let Ok(config) = service.query_config() {
        line.push_str(&format!("; program: {}", config.executable_path.display()));
        if let Some(account) = config.account_name {
            line.push_str(&format!("; account: {}", account.to_string_lossy()));
        }
    }
    Ok(line)
}

/// Whether the service has stopped, and if so whether on a failure (an exit code other than 0,
/// or a process that died without saying). `None` while it runs or is between states.
pub fn stopped_on_failure(spec: &Spec) -> Result<Option<bool>, String> {
    let status = open(spec, ServiceAccess::QUERY_STATUS)?
        .query_status()
        .map_err(|e| explain(spec, "query", e))?;
    Ok((status.current_state == ServiceState::Stopped)
        .then(|| !matches!(status.exit_code, ServiceExitCode::Win32(0))))
}

/// Waits until the service has stopped, then starts it and waits until it runs. A program that
/// replaced itself comes back as the new version this way, through the service manager, without
/// relying on restart-on-failure actions (which an administrator may clear, and Wine refuses).
pub fn start_once_stopped(spec: &Spec) -> Result<(), String> {
    let service = open(spec, ServiceAccess::START)?;
    wait_for(spec, &service, ServiceState::Stopped)?;
    if let Err(e) = service.start::<&str>(&[]) {
        // Restart-on-failure may have started it first.
        let started = service.query_status().is_ok_and(|s| {
            matches!(
                s.current_state,
                ServiceState::Running | ServiceState::StartPending
            )
        });
        if !started {
            return Err(explain(spec, "start", e));
        }
    }
    wait_for(spec, &service, ServiceState::Running).map(|_| ())
}

static SPEC: OnceLock<&'static Spec> = OnceLock::new();
static SERVE: OnceLock<Serve> = OnceLock::new();
static STATUS: OnceLock<ServiceStatusHandle> = OnceLock::new();

/// Hands this thread to the service manager until the service stops (`service run`).
pub fn run(spec: &'static Spec, serve: Serve) -> Result<(), String> {
    let _ = SPEC.set(spec);
    let _ = SERVE.set(serve);
    service_dispatcher::start(spec.name, ffi_service_main).map_err(|e| explain(spec, "run", e))
}

define_windows_service!(ffi_service_main, service_main);

fn report(state: ServiceState, exit: u32) -> ServiceStatus {
    ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: state,
        controls_accepted: if state == ServiceState::Running {
            ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
        } else {
            ServiceControlAccept::empty()
        },
        exit_code: match exit {
            0 => ServiceExitCode::NO_ERROR,
            code => ServiceExitCode::ServiceSpecific(code),
        },
        checkpoint: 0,
        wait_hint: if state == ServiceState::StopPending {
            Duration::from_secs(30)
        } else {
            Duration::ZERO
        },
        process_id: None,
    }
}

/// Called by the service manager on a thread of its own: runs the loop until a stop.
fn service_main(_arguments: Vec<OsString>) {
    let (Some(spec), Some(serve)) = (SPEC.get(), SERVE.get()) else {
        return;
    };
    let (stop, stopped) = oneshot::channel();
    let stop = Mutex::new(Some(stop));
    let handler = move |control: ServiceControl| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            if let Some(status) = STATUS.get() {
                let _ = status.set_service_status(report(ServiceState::StopPending, 0));
            }
            if let Some(stop) = stop.lock().ok().and_then(|mut s| s.take()) {
                let _ = stop.send(());
            }
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let Ok(status) = service_control_handler::register(spec.name, handler) else {
        return;
    };
    let _ = STATUS.set(status);
    let _ = status.set_service_status(report(ServiceState::Running, 0));
    let exit = serve(stopped);
    let _ = status.set_service_status(report(ServiceState::Stopped, exit));
}

/// Does `action` for the service `spec`. Returns what to tell the person at the console.
/// `install` is each program's own (its folders and files: [`plan_place`], [`make_place`], [`install`]);
/// `launch_args` is kept for the callers and unused.
pub fn command(
    spec: &'static Spec,
    action: Action,
    launch_args: Vec<OsString>,
    serve: Serve,
) -> Result<String, String> {
    match action {
        Action::Install => {
            let _ = launch_args;
            Err(format!(
                "the service {} is installed by its program's own `service install`",
                spec.name
            ))
        }
        Action::Uninstall => uninstall(spec),
        Action::Start => start(spec),
        Action::Stop => stop(spec),
        Action::Status => status(spec),
        Action::Run => run(spec, serve).map(|()| String::new()),
    }
}
