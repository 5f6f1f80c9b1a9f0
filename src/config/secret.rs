//! Resolving passwords: `password_command` first, then a plain `password`.
//! A password never appears in an error, a log line or a Debug dump.

use std::fmt;

/// A password that refuses to print itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    // The command line is never repeated: it may carry a secret itself.
    #[error(
        "account \"{account}\": password_command failed ({status}); run it from the config in a shell to see why{stderr}"
    )]
    CommandFailed {
        account: String,
        status: String,
        stderr: String,
    },
    #[error("account \"{account}\": password_command could not start: {reason}")]
    Spawn { account: String, reason: String },
    #[error(
        "account \"{account}\": no password configured; add password_command = \"pass show mail/{account}\" (or a plain password in a file only you can read)"
    )]
    Missing { account: String },
}

/// Resolve a password for `account`: the command's first output line wins.
pub fn resolve(
    account: &str,
    command: Option<&str>,
    plain: Option<&str>,
) -> Result<Secret, SecretError> {
    if let Some(cmd) = command {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| SecretError::Spawn {
                account: account.into(),
                reason: e.to_string(),
            })?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let err = crate::mail::sanitize::sanitize_line(err.trim());
            return Err(SecretError::CommandFailed {
                account: account.into(),
                status: out.status.to_string(),
                stderr: if err.is_empty() {
                    String::new()
                } else {
                    format!(": \"{err}\"")
                },
            });
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let first = text.lines().next().unwrap_or("").to_string();
        return Ok(Secret(first));
    }
    match plain {
        Some(p) => Ok(Secret(p.to_string())),
        None => Err(SecretError::Missing {
            account: account.into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_command_output_first_line_is_the_password() {
        let s = resolve("support", Some("printf 'secret\\nignored'"), None).expect("ok");
        assert_eq!(s.expose(), "secret");
        assert_eq!(format!("{s:?}"), "Secret(***)");
    }

    #[test]
    fn failing_password_command_says_so() {
        let e = resolve("support", Some("exit 3"), Some("x")).expect_err("fails");
        assert!(e.to_string().contains("failed"), "{e}");
    }

    #[test]
    fn password_command_errors_do_not_repeat_the_command() {
        let cmd = "printf hunter2 >/dev/null; echo 'no such entry' >&2; exit 3";
        let e = resolve("support", Some(cmd), None).expect_err("fails");
        let s = e.to_string();
        assert!(!s.contains("hunter2"), "{s}");
        assert!(s.contains("no such entry"), "{s}");
        assert!(s.contains("support"), "{s}");
    }
}
