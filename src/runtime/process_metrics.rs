//! The `process_*` metrics every Go component exposes (client_golang's process collector),
//! read from /proc at each scrape, so dashboards that plot kube-controller-manager's memory
//! and CPU plot minik8s's the same way.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

#[derive(Debug)]
pub struct ProcessCollector;

/// What is read of this process; None where /proc does not say (not Linux).
#[derive(Debug, Default, PartialEq)]
pub struct Sample {
    pub cpu_seconds: f64,
    pub resident_memory_bytes: f64,
    pub virtual_memory_bytes: f64,
    pub virtual_memory_max_bytes: Option<f64>,
    pub start_time_seconds: f64,
    pub open_fds: f64,
    pub max_fds: Option<f64>,
}

impl Sample {
    pub fn read() -> Option<Self> {
        use procfs::process::{LimitValue, Process};
        let me = Process::myself().ok()?;
        let stat = me.stat().ok()?;
        let ticks = procfs::ticks_per_second() as f64;
        let limits = me.limits().ok();
        let value = |limit: LimitValue| match limit {
            LimitValue::Value(v) => Some(v as f64),
            LimitValue::Unlimited => None,
        };
        Some(Self {
            cpu_seconds: (stat.utime + stat.stime) as f64 / ticks,
            resident_memory_bytes: (stat.rss * procfs::page_size()) as f64,
            virtual_memory_bytes: stat.vsize as f64,
            virtual_memory_max_bytes: limits
                .as_ref()
                .and_then(|l| value(l.max_address_space.soft_limit)),
            start_time_seconds: procfs::boot_time_secs().ok()? as f64
                + stat.starttime as f64 / ticks,
            open_fds: me.fd_count().ok()? as f64,
            max_fds: limits.and_then(|l| value(l.max_open_files.soft_limit)),
        })
    }
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(sample) = Sample::read() else {
            return Ok(());
        };
        let cpu = ConstCounter::new(sample.cpu_seconds);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds.",
            None,
            cpu.metric_type(),
        )?)?;
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                Some(sample.resident_memory_bytes),
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                Some(sample.virtual_memory_bytes),
            ),
            (
                "process_virtual_memory_max_bytes",
                "Maximum amount of virtual memory available in bytes.",
                // client_golang reports -1 for no limit.
                Some(sample.virtual_memory_max_bytes.unwrap_or(-1.0)),
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                Some(sample.start_time_seconds),
            ),
            (
                "process_open_fds",
                "Number of open file descriptors.",
                Some(sample.open_fds),
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors.",
                sample.max_fds,
            ),
        ];
        for (name, help, value) in gauges {
            let Some(value) = value else { continue };
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_measured() {
        let sample = Sample::read().expect("/proc/self is readable on Linux");
        assert!(sample.resident_memory_bytes > 1e6, "{sample:?}");
        assert!(sample.virtual_memory_bytes >= sample.resident_memory_bytes);
        assert!(sample.open_fds >= 3.0, "{sample:?}");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        // Started within the last day, not in the future (clock ticks, not seconds, would
        // put it far off).
        assert!(
            sample.start_time_seconds <= now + 1.0 && sample.start_time_seconds > now - 86400.0,
            "{sample:?} vs now {now}"
        );
    }
}
