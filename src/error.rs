//! Errors shared by the layers that validate settings: the command line and TOML (`cli`)
//! and the sinks, which check what only they can (a file that cannot be opened, a Kafka
//! property librdkafka refuses).

use std::fmt;

/// One invalid setting: printed as `setting: message` on one line, exit status 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub setting: String,
    pub msg: String,
}

impl ConfigError {
    pub fn new(setting: impl Into<String>, msg: impl Into<String>) -> ConfigError {
        ConfigError {
            setting: setting.into(),
            msg: msg.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // one line, whatever the message held
        let msg = self.msg.replace('\n', " ");
        write!(f, "{}: {}", self.setting, msg.trim())
    }
}

impl std::error::Error for ConfigError {}
