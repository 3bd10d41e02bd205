//! A load run: hosts dealt to `--concurrency` workers, each sending its own hosts' scrapes in
//! timestamp order (one request in flight per worker, so a series' samples never overtake
//! each other), paced by the simulated clock, a fixed rate, or the receiver's acks.
//!
//! Retries follow the remote write spec: 5xx and 429 are retried with exponential backoff
//! (honouring `Retry-After`), other 4xx never are; transport errors are retried too.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::watch;

use crate::acklog::AckLogWriter;
use crate::cli::{Config, Pace, TenantMode};
use crate::encode::{Protocol, RequestEncoder, Rw2Layout};
use crate::error::{LoadgenError, Result};
use crate::host::{Host, HostParams};
use crate::rng::Rng;
use crate::stats::{get, human, process_cpu_seconds, Report, Stats};
use crate::timefmt::{format_ms, now_ms};

/// State shared by workers, the progress printer and the timers.
struct Shared {
    cfg: Config,
    params: HostParams,
    stats: Stats,
    stop: watch::Sender<bool>,
    ack: Option<Mutex<AckLogWriter>>,
    ack_error: Mutex<Option<LoadgenError>>,
    client: reqwest::Client,
    tenant_names: Vec<String>,
    started: Instant,
    logged_statuses: Mutex<Vec<String>>,
}

impl Shared {
    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    fn request_stop(&self) {
        self.stop.send_replace(true);
    }

    /// Sleeps until `deadline`; returns false if the run was stopped meanwhile.
    async fn sleep_until(&self, deadline: Instant) -> bool {
        let mut rx = self.stop.subscribe();
        if *rx.borrow() {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(deadline.into()) => !self.stopped(),
            _ = rx.wait_for(|s| *s) => false,
        }
    }

    /// Prints the first response body of each failing status, so a misconfigured run says why.
    fn log_first(&self, status: &str, detail: &str) {
        let mut seen = self.logged_statuses.lock();
        if !seen.iter().any(|s| s == status) {
            seen.push(status.to_string());
            eprintln!(
                "first {status} from receiver: {}",
                detail.trim().chars().take(300).collect::<String>()
            );
        }
    }
}

/// A run of requests sent together: one tenant, up to `--batch` series, as host ranges.
struct Plan {
    tenant: u32,
    /// `(host index within the worker, first series, end series)`.
    segments: Vec<(usize, usize, usize)>,
    series: usize,
    rw2: Option<Rw2Layout>,
}

struct Worker {
    shared: Arc<Shared>,
    hosts: Vec<Host>,
    plans: Vec<Plan>,
    /// Plans each host appears in, to drop their rw2 layouts when churn replaces it.
    host_plans: Vec<Vec<usize>>,
    enc: RequestEncoder,
    acks: Vec<(u64, i64)>,
    rng: Rng,
    churn_acc: f64,
    churn_next: usize,
    series_total: usize,
    rate_per_worker: Option<f64>,
    next_send: Instant,
}

/// Builds `cfg.series` series worth of hosts (the last one cut short), dealt round-robin to
/// tenants. Exposed for tests and tools that want the exact series a run sends.
pub fn build_hosts(params: &HostParams, series: u64, tenants: u32) -> Vec<Host> {
    let mut hosts = Vec::new();
    let mut left = series;
    let mut index: u32 = 0;
    while left > 0 {
        let h = Host::new(
            params,
            index,
            index % tenants.max(1),
            left.min(usize::MAX as u64) as usize,
        );
        left -= h.series().len() as u64;
        hosts.push(h);
        index += 1;
    }
    hosts
}

/// Groups a worker's hosts (any order) into plans of at most `batch` series of one tenant.
fn build_plans(hosts: &[Host], batch: usize) -> (Vec<Plan>, Vec<Vec<usize>>) {
    let mut order: Vec<usize> = (0..hosts.len()).collect();
    order.sort_by_key(|&i| (hosts[i].tenant(), hosts[i].index()));
    let mut plans: Vec<Plan> = Vec::new();
    let mut host_plans = vec![Vec::new(); hosts.len()];
    for i in order {
        let n = hosts[i].series().len();
        let mut start = 0;
        while start < n {
            let need_new = match plans.last() {
                Some(p) => p.tenant != hosts[i].tenant() || p.series >= batch,
                None => true,
            };
            if need_new {
                plans.push(Plan {
                    tenant: hosts[i].tenant(),
                    segments: Vec::new(),
                    series: 0,
                    rw2: None,
                });
            }
            let p = plans.len() - 1;
            let plan = &mut plans[p];
            let take = (batch - plan.series).min(n - start);
            plan.segments.push((i, start, start + take));
            plan.series += take;
            if host_plans[i].last() != Some(&p) {
                host_plans[i].push(p);
            }
            start += take;
        }
    }
    (plans, host_plans)
}

impl Worker {
    async fn run(mut self) -> Result<()> {
        let shared = Arc::clone(&self.shared);
        let cfg = &shared.cfg;
        let skip = i64::from(cfg.skip_intervals);
        for tick in 0..skip {
            self.scrape(tick);
        }
        let mut tick: i64 = skip;
        while !shared.stopped() {
            let tick_start = cfg.sim_start_ms + tick * cfg.interval_ms;
            if cfg.stop_at_now && tick_start + cfg.interval_ms > now_ms() {
                break;
            }
            if let Pace::Clock { speed } = cfg.pace {
                // The interval is sent once it is over on the simulated clock, so no sample
                // is in the receiver's future.
                let sim_elapsed_s = ((tick - skip + 1) * cfg.interval_ms) as f64 / 1000.0;
                let due = shared.started + Duration::from_secs_f64(sim_elapsed_s / speed);
                if !shared.sleep_until(due).await {
                    break;
                }
            }
            self.scrape(tick);
            for p in 0..self.plans.len() {
                if shared.stopped() {
                    break;
                }
                self.send_plan(p).await?;
            }
            tick += 1;
        }
        Ok(())
    }

    /// Moves every host to scrape `tick` (churn first, from the second interval on).
    fn scrape(&mut self, tick: i64) {
        if tick > 0 {
            self.churn();
        }
        let tick_start = self.shared.cfg.sim_start_ms + tick * self.shared.cfg.interval_ms;
        for h in &mut self.hosts {
            h.advance(tick_start, &self.shared.params);
        }
    }

    /// Replaces whole hosts until about `churn × series` series per interval were replaced.
    fn churn(&mut self) {
        let cfg = &self.shared.cfg;
        if cfg.churn <= 0.0 || self.hosts.is_empty() {
            return;
        }
        self.churn_acc += cfg.churn * self.series_total as f64;
        loop {
            let h = self.churn_next;
            let n = self.hosts[h].series().len();
            if self.churn_acc < n as f64 {
                break;
            }
            self.churn_acc -= n as f64;
            self.hosts[h].replace(&self.shared.params);
            for &p in &self.host_plans[h] {
                self.plans[p].rw2 = None;
            }
            self.shared
                .stats
                .series_created
                .fetch_add(n as u64, Relaxed);
            self.churn_next = self.rng.below(self.hosts.len() as u64) as usize;
        }
    }

    async fn send_plan(&mut self, p: usize) -> Result<()> {
        let shared = Arc::clone(&self.shared);
        let cfg = &shared.cfg;
        let plan = &mut self.plans[p];
        if let Some(rate) = self.rate_per_worker {
            // Allow at most a second of catch-up after a stall, not an unbounded burst.
            let now = Instant::now();
            if self.next_send + Duration::from_secs(1) < now {
                self.next_send = now;
            }
            if !shared.sleep_until(self.next_send).await {
                return Ok(());
            }
            self.next_send += Duration::from_secs_f64(plan.series as f64 / rate);
        }
        if cfg.protocol == Protocol::Rw2 && plan.rw2.is_none() {
            let hosts = &self.hosts;
            plan.rw2 = Some(Rw2Layout::build(plan.segments.iter().flat_map(
                |&(h, a, b)| hosts[h].series()[a..b].iter().map(|s| s.labels()),
            )));
        }
        self.enc.begin(plan.rw2.as_ref());
        self.acks.clear();
        let mut i = 0;
        let mut max_t = i64::MIN;
        for &(h, a, b) in &plan.segments {
            let host = &self.hosts[h];
            let t = host.timestamp();
            max_t = max_t.max(t);
            for (s, v) in host.series()[a..b].iter().zip(&host.values()[a..b]) {
                match &plan.rw2 {
                    Some(layout) => self.enc.push_rw2(layout, i, s.kind, t, *v),
                    None => self.enc.push_rw1(&s.rw1_labels, t, *v),
                }
                self.acks.push((s.hash, t));
                i += 1;
            }
        }
        let body = Bytes::copy_from_slice(self.enc.finish()?);
        let n = plan.series as u64;
        let tenant = plan.tenant;
        let sent = shared.stats.samples_sent.fetch_add(n, Relaxed) + n;
        if send_with_retries(&shared, tenant, body).await {
            shared.stats.samples_acked.fetch_add(n, Relaxed);
            shared.stats.max_acked_t.fetch_max(max_t, Relaxed);
            if let Some(ack) = &shared.ack {
                if let Err(e) = ack.lock().append(tenant, &self.acks) {
                    shared.ack_error.lock().get_or_insert(e);
                    shared.request_stop();
                }
            }
        } else {
            shared.stats.samples_dropped.fetch_add(n, Relaxed);
        }
        if cfg.samples.is_some_and(|limit| sent >= limit) {
            shared.request_stop();
        }
        Ok(())
    }
}

/// Sends one request until it is acknowledged (true) or given up on (false).
async fn send_with_retries(shared: &Shared, tenant: u32, body: Bytes) -> bool {
    let cfg = &shared.cfg;
    let stats = &shared.stats;
    let mut backoff = cfg.min_backoff;
    for attempt in 0..=cfg.max_retries {
        if attempt > 0 {
            stats.retries.fetch_add(1, Relaxed);
        }
        let mut rb = shared
            .client
            .post(&cfg.url)
            .header(reqwest::header::CONTENT_ENCODING, "snappy")
            .header(reqwest::header::CONTENT_TYPE, cfg.protocol.content_type())
            .header(
                "X-Prometheus-Remote-Write-Version",
                cfg.protocol.version_header(),
            )
            .body(body.clone());
        let name = &shared.tenant_names[tenant as usize];
        match cfg.tenant_mode {
            TenantMode::Header => rb = rb.header("X-Scope-OrgID", name),
            TenantMode::BasicAuth => rb = rb.basic_auth(name, Some("")),
            TenantMode::None => {}
        }
        stats.requests.fetch_add(1, Relaxed);
        let start = Instant::now();
        let mut retry_after = None;
        match rb.send().await {
            Ok(resp) => {
                let status = resp.status();
                retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                // Drain the body so the connection is reused.
                let text = resp.bytes().await.unwrap_or_default();
                stats.latency(start.elapsed());
                if status.is_success() {
                    return true;
                }
                stats.error(status.as_str());
                shared.log_first(status.as_str(), &String::from_utf8_lossy(&text));
                let retryable = status.as_u16() == 429 || status.is_server_error();
                if !retryable {
                    return false;
                }
            }
            Err(e) => {
                stats.latency(start.elapsed());
                let kind = if e.is_timeout() { "timeout" } else { "conn" };
                stats.error(kind);
                shared.log_first(kind, &format!("{e:#}"));
            }
        }
        if attempt == cfg.max_retries {
            break;
        }
        let wait = retry_after
            .unwrap_or(backoff)
            .min(cfg.max_backoff.max(backoff));
        if !shared.sleep_until(Instant::now() + wait).await {
            return false;
        }
        backoff = (backoff * 2).min(cfg.max_backoff);
    }
    false
}

/// Runs the load described by `cfg` to its end (duration, sample count, backfill reaching
/// now, or Ctrl-C) and returns the report.
pub async fn run(cfg: Config) -> Result<Report> {
    let params = HostParams {
        seed: cfg.seed,
        extra_labels: cfg.extra_labels,
        reset_prob: cfg.reset_prob,
        interval_ms: cfg.interval_ms,
    };
    let build_start = Instant::now();
    let hosts = build_hosts(&params, cfg.series, cfg.tenants);
    if cfg.progress {
        eprintln!(
            "built {} hosts, {} series, {} tenant(s) in {:.1}s",
            hosts.len(),
            cfg.series,
            cfg.tenants,
            build_start.elapsed().as_secs_f64()
        );
    }
    strata_httpclient::install_crypto_provider();
    let client = reqwest::Client::builder()
        .timeout(cfg.timeout)
        .user_agent(concat!("strata-loadgen/", env!("CARGO_PKG_VERSION")))
        .pool_max_idle_per_host(cfg.concurrency)
        .build()
        .map_err(LoadgenError::Client)?;
    let ack = cfg
        .ack_log
        .as_deref()
        .map(AckLogWriter::open)
        .transpose()?
        .map(Mutex::new);
    let (stop, _) = watch::channel(false);
    let shared = Arc::new(Shared {
        tenant_names: (0..cfg.tenants).map(|t| format!("tenant-{t}")).collect(),
        stats: Stats::new(),
        stop,
        ack,
        ack_error: Mutex::new(None),
        client,
        started: Instant::now(),
        logged_statuses: Mutex::new(Vec::new()),
        params,
        cfg,
    });
    shared
        .stats
        .series_created
        .store(shared.cfg.series, Relaxed);
    let cpu_before = process_cpu_seconds();

    let concurrency = shared.cfg.concurrency.min(hosts.len()).max(1);
    let mut dealt: Vec<Vec<Host>> = (0..concurrency).map(|_| Vec::new()).collect();
    for (i, h) in hosts.into_iter().enumerate() {
        dealt[i % concurrency].push(h);
    }
    let rate_per_worker = match shared.cfg.pace {
        Pace::Rate(r) => Some(r / concurrency as f64),
        _ => None,
    };
    let mut tasks = Vec::new();
    for (w, hosts) in dealt.into_iter().enumerate() {
        let (plans, host_plans) = build_plans(&hosts, shared.cfg.batch);
        let series_total = hosts.iter().map(|h| h.series().len()).sum();
        let mut rng = Rng::new(shared.cfg.seed ^ 0xc4u64.wrapping_mul(w as u64 + 1));
        let churn_next = rng.below(hosts.len().max(1) as u64) as usize;
        let worker = Worker {
            shared: Arc::clone(&shared),
            hosts,
            plans,
            host_plans,
            enc: RequestEncoder::new(shared.cfg.protocol),
            acks: Vec::with_capacity(shared.cfg.batch),
            rng,
            churn_acc: 0.0,
            churn_next,
            series_total,
            rate_per_worker,
            next_send: Instant::now(),
        };
        tasks.push(tokio::spawn(worker.run()));
    }

    let timers = {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let deadline = shared.cfg.duration.map(|d| shared.started + d);
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            let mut last_acked = 0u64;
            let mut rx = shared.stop.subscribe();
            // One listener for the whole run, so a Ctrl-C between ticks is not missed.
            let ctrl_c = tokio::signal::ctrl_c();
            tokio::pin!(ctrl_c);
            let mut interrupted = false;
            // Far in the future when there is no --duration; the branch is then disabled.
            let end =
                deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365));
            let end_sleep = tokio::time::sleep_until(end.into());
            tokio::pin!(end_sleep);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = &mut end_sleep, if deadline.is_some() && !interrupted => {
                        shared.request_stop();
                    }
                    _ = &mut ctrl_c, if !interrupted => {
                        interrupted = true;
                        eprintln!("interrupted, finishing in-flight requests");
                        shared.request_stop();
                    }
                    _ = rx.wait_for(|s| *s) => return,
                }
                if shared.cfg.progress {
                    let acked = get(&shared.stats.samples_acked);
                    print_progress(&shared, acked - last_acked);
                    last_acked = acked;
                }
            }
        })
    };

    let mut first_err = None;
    for t in tasks {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                first_err.get_or_insert(e);
                shared.request_stop();
            }
            Err(join) => {
                eprintln!("worker task failed: {join}");
                shared.request_stop();
            }
        }
    }
    shared.request_stop();
    let _ = timers.await;
    if let Some(e) = first_err {
        return Err(e);
    }
    if let Some(e) = shared.ack_error.lock().take() {
        return Err(e);
    }
    if let Some(ack) = &shared.ack {
        ack.lock().flush()?;
    }
    let elapsed = shared.started.elapsed().as_secs_f64();
    let cpu = match (cpu_before, process_cpu_seconds()) {
        (Some(before), Some(after)) => Some((after - before, before)),
        _ => None,
    };
    Ok(report(&shared, elapsed, cpu))
}

fn print_progress(shared: &Shared, acked_last_second: u64) {
    let s = &shared.stats;
    let max_t = s.max_acked_t.load(Relaxed);
    let sim = if max_t == i64::MIN {
        "-".to_string()
    } else {
        format!("+{}", format_ms(max_t - shared.cfg.sim_start_ms))
    };
    eprintln!(
        "[{:>5.0}s] acked {} ({}/s) sent {} dropped {} req {} retries {} errors {:?} sim {}",
        shared.started.elapsed().as_secs_f64(),
        human(get(&s.samples_acked) as f64),
        human(acked_last_second as f64),
        human(get(&s.samples_sent) as f64),
        get(&s.samples_dropped),
        get(&s.requests),
        get(&s.retries),
        s.errors(),
        sim,
    );
}

/// `cpu` is (CPU seconds while sending, CPU seconds spent building hosts before).
fn report(shared: &Shared, elapsed: f64, cpu: Option<(f64, f64)>) -> Report {
    let s = &shared.stats;
    let q = s.latency_quantiles_ms(&[0.5, 0.99, 1.0]);
    let sent = get(&s.samples_sent);
    let acked = get(&s.samples_acked);
    let max_t = s.max_acked_t.load(Relaxed);
    Report {
        url: shared.cfg.url.clone(),
        protocol: shared.cfg.protocol.name(),
        tenants: shared.cfg.tenants,
        active_series: shared.cfg.series,
        series_created: get(&s.series_created),
        interval_seconds: shared.cfg.interval_ms as f64 / 1000.0,
        samples_sent: sent,
        samples_acked: acked,
        samples_dropped: get(&s.samples_dropped),
        requests: get(&s.requests),
        retries: get(&s.retries),
        errors_by_status: s.errors(),
        latency_p50_ms: q[0],
        latency_p99_ms: q[1],
        latency_max_ms: q[2],
        elapsed_seconds: elapsed,
        acked_samples_per_second: if elapsed > 0.0 {
            acked as f64 / elapsed
        } else {
            0.0
        },
        sim_start_ms: shared.cfg.sim_start_ms,
        sim_max_acked_ms: (max_t != i64::MIN).then_some(max_t),
        generator_cpu_seconds: cpu.map(|c| c.0),
        generator_setup_cpu_seconds: cpu.map(|c| c.1),
        generator_cpu_seconds_per_million_samples: cpu
            .filter(|_| sent > 0)
            .map(|c| c.0 / (sent as f64 / 1e6)),
    }
}

#[cfg(test)]
mod tests;
