//! DNS provisioning: a durable job queue in the store, drained by a background worker
//! that calls a [`DnsProvisioner`]. The built-in [`LocalProvisioner`] has nothing to
//! create (`*.localhost` already resolves to loopback) and marks projects `READY`; a
//! real DNS backend implements the same trait.

use async_trait::async_trait;
use behest_core::{DnsStatus, ProjectStatus};
use behest_http::SiteDomain;
use behest_store::{Job, JobKind, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The hosts of one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectHosts {
    pub slug: String,
    pub fqdn_dev: String,
    pub fqdn_prod: String,
}

/// Creates and removes a project's DNS records. Errors are shown to the tenant as
/// `dns_last_error`: say what went wrong, never a credential.
#[async_trait]
pub trait DnsProvisioner: Send + Sync + 'static {
    async fn provision(&self, hosts: &ProjectHosts) -> Result<(), String>;
    async fn remove(&self, hosts: &ProjectHosts) -> Result<(), String>;
}

/// For local use: there are no records to manage.
pub struct LocalProvisioner;

#[async_trait]
impl DnsProvisioner for LocalProvisioner {
    async fn provision(&self, _hosts: &ProjectHosts) -> Result<(), String> {
        Ok(())
    }

    async fn remove(&self, _hosts: &ProjectHosts) -> Result<(), String> {
        Ok(())
    }
}

/// How the worker paces itself.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Attempts per job before it fails for good (the project goes `FAILED`).
    pub max_attempts: i64,
    /// Delay before the second attempt; doubled for each further one.
    pub backoff: Duration,
    /// How long a claimed job is ours before another worker may take it over.
    pub lease: Duration,
    /// How often to look for due jobs when nobody wakes us.
    pub poll_interval: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            max_attempts: 3,
            backoff: Duration::from_secs(2),
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
        }
    }
}

pub struct Worker {
    pub store: Arc<dyn Store>,
    pub provisioner: Arc<dyn DnsProvisioner>,
    pub site: SiteDomain,
    pub wake: Arc<Notify>,
    pub config: WorkerConfig,
}

impl Worker {
    /// Drains due jobs until `shutdown` is cancelled. A job interrupted by shutdown is
    /// picked up again when its lease runs out.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let worked = tokio::select! {
                _ = shutdown.cancelled() => return,
                worked = self.run_one() => worked,
            };
            if worked {
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
    }

    /// Claims and runs one due job; `false` when there was none (or the store failed).
    pub async fn run_one(&self) -> bool {
        let now = chrono::Utc::now();
        let lease_until = now + chrono::Duration::from_std(self.config.lease).unwrap_or_default();
        match self.store.claim_job(now, lease_until).await {
            Ok(Some(job)) => {
                if let Err(err) = self.process(&job).await {
                    tracing::error!(job = %job.id, error = %err, "job bookkeeping failed");
                }
                true
            }
            Ok(None) => false,
            Err(err) => {
                tracing::error!(error = %err, "could not claim a job");
                false
            }
        }
    }

    async fn process(&self, job: &Job) -> Result<(), behest_store::StoreError> {
        let Some(project) = self.store.project(job.project_id).await? else {
            return self
                .store
                .fail_job(job.id, "project no longer exists")
                .await;
        };
        let hosts = ProjectHosts {
            slug: project.slug.clone(),
            fqdn_dev: self.site.dev_fqdn(&project.slug),
            fqdn_prod: self.site.prod_fqdn(&project.slug),
        };
        let outcome = match job.kind {
            // A project suspended while its job waited must not come back to life.
            JobKind::ProvisionDns if project.status == ProjectStatus::Suspended => {
                return self.store.finish_job(job.id).await;
            }
            JobKind::ProvisionDns => self.provisioner.provision(&hosts).await,
            JobKind::RemoveDns => self.provisioner.remove(&hosts).await,
        };
        match (outcome, job.kind) {
            (Ok(()), JobKind::ProvisionDns) => {
                self.store
                    .set_dns_status(project.id, DnsStatus::Ready, None)
                    .await?;
                tracing::info!(project = %project.id, slug = %project.slug, "DNS ready");
                self.store.finish_job(job.id).await
            }
            (Ok(()), JobKind::RemoveDns) => {
                tracing::info!(project = %project.id, slug = %project.slug, "DNS removed");
                self.store.finish_job(job.id).await
            }
            (Err(error), kind) if job.attempts < self.config.max_attempts => {
                let delay = self.config.backoff
                    * 2u32.saturating_pow((job.attempts - 1).clamp(0, 16) as u32);
                let run_at =
                    chrono::Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
                tracing::warn!(project = %project.id, kind = kind.as_str(), attempt = job.attempts, %error, "DNS job failed; will retry");
                self.store.retry_job_at(job.id, run_at, &error).await
            }
            (Err(error), kind) => {
                tracing::warn!(project = %project.id, kind = kind.as_str(), attempt = job.attempts, %error, "DNS job failed for good");
                if kind == JobKind::ProvisionDns {
                    self.store
                        .set_dns_status(project.id, DnsStatus::Failed, Some(&error))
                        .await?;
                }
                self.store.fail_job(job.id, &error).await
            }
        }
    }
}
