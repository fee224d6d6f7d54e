//! Flow times: the time sources a template may carry, in order of preference ([`TimeSrc`],
//! which `Plan::build` picks from), and their conversion to Unix nanoseconds once a record's
//! ops ran (`resolve_time`, with the datagram's [`RecCtx`]). Uses no sibling module.

/// Where a flow time comes from, most precise first (the order of preference).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TimeSrc {
    /// 156/157 dateTimeNanoseconds (NTP format).
    NtpNanos = 0,
    /// 154/155 dateTimeMicroseconds (NTP format).
    NtpMicros = 1,
    /// 152/153 milliseconds since the Unix epoch.
    Millis = 2,
    /// 150/151 seconds since the Unix epoch.
    Seconds = 3,
    /// 158/159 microseconds before the export time.
    DeltaMicros = 4,
    /// 22/21 sysUptime milliseconds (v9: header uptime; IPFIX: relative to 160).
    Uptime = 5,
    None = 6,
}

impl TimeSrc {
    fn from_u8(v: u8) -> TimeSrc {
        match v {
            0 => TimeSrc::NtpNanos,
            1 => TimeSrc::NtpMicros,
            2 => TimeSrc::Millis,
            3 => TimeSrc::Seconds,
            4 => TimeSrc::DeltaMicros,
            5 => TimeSrc::Uptime,
            _ => TimeSrc::None,
        }
    }

    pub(super) fn of(ie: u16) -> Option<(bool, TimeSrc)> {
        // (is_start, source)
        Some(match ie {
            156 => (true, TimeSrc::NtpNanos),
            157 => (false, TimeSrc::NtpNanos),
            154 => (true, TimeSrc::NtpMicros),
            155 => (false, TimeSrc::NtpMicros),
            152 => (true, TimeSrc::Millis),
            153 => (false, TimeSrc::Millis),
            150 => (true, TimeSrc::Seconds),
            151 => (false, TimeSrc::Seconds),
            158 => (true, TimeSrc::DeltaMicros),
            159 => (false, TimeSrc::DeltaMicros),
            22 => (true, TimeSrc::Uptime),
            21 => (false, TimeSrc::Uptime),
            _ => return None,
        })
    }
}

/// Seconds between the NTP epoch (1900) and the Unix epoch.
pub(super) const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// An NTP-format timestamp (32-bit seconds since 1900, 32-bit fraction) in Unix ns.
#[inline]
pub(crate) fn ntp_to_unix_ns(v: u64) -> u64 {
    let secs = (v >> 32).saturating_sub(NTP_UNIX_OFFSET);
    let frac_ns = ((v & 0xFFFF_FFFF) * 1_000_000_000) >> 32;
    secs.saturating_mul(1_000_000_000).saturating_add(frac_ns)
}

/// What a data set needs beyond its bytes: the datagram's times and the sampling state.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RecCtx {
    pub v9: bool,
    pub export_ns: u64,
    /// NetFlow v9 header sysUptime (ms).
    pub uptime_ms: u32,
    /// IPFIX systemInitTimeMilliseconds known for the domain (options data), 0 if none.
    pub sys_init_ms: u64,
}

#[inline]
pub(super) fn resolve_time(src: u8, raw: u64, ctx: &RecCtx, sys_init_ms: u64) -> u64 {
    match TimeSrc::from_u8(src) {
        TimeSrc::NtpNanos | TimeSrc::NtpMicros => ntp_to_unix_ns(raw),
        TimeSrc::Millis => raw.saturating_mul(1_000_000),
        TimeSrc::Seconds => raw.saturating_mul(1_000_000_000),
        TimeSrc::DeltaMicros => ctx.export_ns.saturating_sub(raw.saturating_mul(1_000)),
        TimeSrc::Uptime if ctx.v9 => uptime_to_ns(ctx.export_ns, ctx.uptime_ms, raw as u32),
        TimeSrc::Uptime if sys_init_ms != 0 => {
            sys_init_ms.saturating_add(raw).saturating_mul(1_000_000)
        }
        _ => ctx.export_ns,
    }
}

/// Export time minus (sysUptime - t) in ns, with the 32-bit uptime wrap handled: a
/// switched-time a little "after" the uptime is a flow that started before the counter wrapped.
#[inline]
pub(crate) fn uptime_to_ns(export_ns: u64, uptime_ms: u32, t_ms: u32) -> u64 {
    let ago_ms = uptime_ms.wrapping_sub(t_ms);
    // A difference in the top half of the u32 range means t is after the export uptime
    // (clock skew between line cards): treat it as "now" rather than 49 days ago.
    let ago_ms = if ago_ms > u32::MAX / 2 { 0 } else { ago_ms };
    export_ns.saturating_sub(u64::from(ago_ms) * 1_000_000)
}
