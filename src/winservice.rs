//! A program of this package as a Windows service: installed with the service control manager
//! (started at boot with no one logged in, restarted when it fails), started, stopped, removed,
//! and the dispatcher the service manager talks to once it starts the program. The appliance
//! (`server::winservice`) and the connector (`connector::service`) each describe their service
//! with a [`Spec`] and hand over the loop it runs until told to stop.

use std::ffi::OsString;
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

/// Registers the running program as the service: started with [`RUN_ARGS`], then `launch_args`.
pub fn install(spec: &Spec, launch_args: Vec<OsString>) -> Result<String, String> {
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot find this program's path to install it: {e}"))?;
    let mut arguments: Vec<OsString> = RUN_ARGS.iter().map(OsString::from).collect();
    arguments.extend(launch_args);
    let info = ServiceInfo {
        name: spec.name.into(),
        display_name: spec.display_name.into(),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: exe.clone(),
        launch_arguments: arguments,
        dependencies: vec![],
        // LocalSystem: runs at boot with no one logged in.
        account_name: None,
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
    Ok(format!(
        "installed the service {} ({}): {} starts at boot{}",
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

/// Stops the service if it runs, then removes it. Its data stays where it is.
pub fn uninstall(spec: &Spec) -> Result<String, String> {
    let service = open(spec, ServiceAccess::STOP | ServiceAccess::DELETE)?;
    stop_and_wait(spec, &service)?;
    service.delete().map_err(|e| explain(spec, "remove", e))?;
    Ok(format!(
        "removed the service {}; its data is left in place",
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
    service
        .start::<&str>(&[])
        .map_err(|e| explain(spec, "start", e))?;
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

/// Does `action` for the service `spec`; `launch_args` are given to the program after
/// [`RUN_ARGS`] when installed. Returns what to tell the person at the console.
pub fn command(
    spec: &'static Spec,
    action: Action,
    launch_args: Vec<OsString>,
    serve: Serve,
) -> Result<String, String> {
    match action {
        Action::Install => install(spec, launch_args),
        Action::Uninstall => uninstall(spec),
        Action::Start => start(spec),
        Action::Stop => stop(spec),
        Action::Status => status(spec),
        Action::Run => run(spec, serve).map(|()| String::new()),
    }
}
