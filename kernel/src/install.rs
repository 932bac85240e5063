//! `eddy install`: writes the kernelspec (kernel.json and logos) where Jupyter looks.

use std::path::{Path, PathBuf};
use std::process::Command;

const KERNEL_JSON: &str = include_str!("../../kernelspec/kernel.json");
const LOGOS: &[(&str, &[u8])] = &[
    (
        "logo-32x32.png",
        include_bytes!("../../kernelspec/logo-32x32.png"),
    ),
    (
        "logo-64x64.png",
        include_bytes!("../../kernelspec/logo-64x64.png"),
    ),
    (
        "logo-svg.svg",
        include_bytes!("../../kernelspec/logo-svg.svg"),
    ),
];

/// Which Jupyter installation gets the kernelspec.
#[derive(Debug, Clone)]
pub enum Target {
    /// The user's Jupyter data directory.
    User,
    /// The Python environment Jupyter runs in (virtualenv, conda or `python3`'s prefix).
    SysPrefix,
    /// `DIR/share/jupyter/kernels`, as `jupyter kernelspec install --prefix`.
    Prefix(PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("cannot find the user's Jupyter data directory: set JUPYTER_DATA_DIR or HOME")]
    NoDataDir,
    #[error(
        "cannot find the Python environment: activate it (VIRTUAL_ENV or CONDA_PREFIX), or \
         use --prefix DIR ({0})"
    )]
    NoSysPrefix(String),
    #[error("cannot find the eddy binary's own path: {0}")]
    NoBinary(std::io::Error),
    #[error("kernel name {0:?} must be letters, digits, '-', '_' or '.'")]
    BadName(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("the kernel.json template is broken: {0}")]
    Template(serde_json::Error),
}

/// Installs the kernelspec as `name` and returns its directory. An existing one of that
/// name is replaced whole.
pub fn install(
    target: &Target,
    name: &str,
    display_name: Option<&str>,
) -> Result<PathBuf, InstallError> {
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || !name.chars().all(valid) {
        return Err(InstallError::BadName(name.to_string()));
    }
    let kernels = kernels_dir(target)?;
    let binary = std::env::current_exe()
        .and_then(|path| path.canonicalize())
        .map_err(InstallError::NoBinary)?;
    let destination = kernels.join(name);
    // Write beside the destination, then swap, so a failed install leaves the old one.
    let staging = kernels.join(format!(".{name}.installing"));
    let written = write_spec(&staging, &binary, display_name);
    if let Err(error) = written {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(error);
    }
    if destination.exists() {
        std::fs::remove_dir_all(&destination).map_err(|e| write_error(&destination, e))?;
    }
    std::fs::rename(&staging, &destination).map_err(|e| write_error(&destination, e))?;
    Ok(destination)
}

fn write_spec(dir: &Path, binary: &Path, display_name: Option<&str>) -> Result<(), InstallError> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| write_error(dir, e))?;
    let mut spec: serde_json::Value =
        serde_json::from_str(KERNEL_JSON).map_err(InstallError::Template)?;
    spec["argv"][0] = binary.to_string_lossy().into();
    if let Some(display_name) = display_name {
        spec["display_name"] = display_name.into();
    }
    let json = serde_json::to_string_pretty(&spec).map_err(InstallError::Template)?;
    let file = dir.join("kernel.json");
    std::fs::write(&file, json + "\n").map_err(|e| write_error(&file, e))?;
    for (logo, bytes) in LOGOS {
        let file = dir.join(logo);
        std::fs::write(&file, bytes).map_err(|e| write_error(&file, e))?;
    }
    Ok(())
}

fn write_error(path: &Path, source: std::io::Error) -> InstallError {
    InstallError::Write {
        path: path.display().to_string(),
        source,
    }
}

fn kernels_dir(target: &Target) -> Result<PathBuf, InstallError> {
    let base = match target {
        Target::User => {
            crate::server::history::jupyter_data_dir().ok_or(InstallError::NoDataDir)?
        }
        Target::SysPrefix => sys_prefix()?.join("share/jupyter"),
        Target::Prefix(prefix) => prefix.join("share/jupyter"),
    };
    Ok(base.join("kernels"))
}

/// The prefix of the Python environment in use, as `sys.prefix` would say.
fn sys_prefix() -> Result<PathBuf, InstallError> {
    for variable in ["VIRTUAL_ENV", "CONDA_PREFIX"] {
        if let Some(prefix) = std::env::var_os(variable).filter(|p| !p.is_empty()) {
            return Ok(PathBuf::from(prefix));
        }
    }
    let output = Command::new("python3")
        .args(["-c", "import sys; print(sys.prefix)"])
        .output()
        .map_err(|e| InstallError::NoSysPrefix(format!("python3: {e}")))?;
    let prefix = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if !output.status.success() || prefix.is_empty() {
        return Err(InstallError::NoSysPrefix("python3 did not say".to_string()));
    }
    Ok(PathBuf::from(prefix))
}
