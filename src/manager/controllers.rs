//! Every controller the manager can run (kube-controller-manager's `NewControllerDescriptors`):
//! its name, the source its events carry, and how it starts from its own client, its own event
//! recorder and the shared informers. Adding a controller is one function and one line here.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use kube::{Api, Client};

use super::informers::Informers;
use super::{ControllerName, Options};
use crate::controllers::deployment::{self, DeploymentController};
use crate::controllers::driver::Bookkeeping;
use crate::controllers::endpoints::{self, EndpointsController};
use crate::controllers::endpointslice::{self, EndpointSliceController};
use crate::controllers::replicaset::{self, ReplicaSetController};
use crate::runtime::client::RateGate;
use crate::runtime::events::EventRecorder;

pub type Shutdown = Shared<BoxFuture<'static, ()>>;

/// What a controller is started with.
pub struct Parts<'a> {
    /// Its own client, so its requests have a rate limit of their own (as in
    /// kube-controller-manager).
    pub client: Client,
    /// The gate of that client's rate limit, when it has one.
    pub gate: Option<RateGate>,
    pub events: EventRecorder,
    pub informers: &'a mut Informers,
    pub options: &'a Options,
    pub shutdown: Shutdown,
}

impl Parts<'_> {
    /// An API of the controller's own client, scoped as the manager is.
    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        match &self.options.namespace {
            Some(namespace) => Api::namespaced(self.client.clone(), namespace),
            None => Api::all(self.client.clone()),
        }
    }
}

/// A started controller: what it keeps per object, and its main loop.
pub struct Started {
    pub bookkeeping: Arc<dyn Bookkeeping>,
    pub run: BoxFuture<'static, ()>,
}

pub struct Descriptor {
    pub name: ControllerName,
    /// The `source.component` of its events.
    pub component: &'static str,
    pub start: fn(Parts<'_>) -> Started,
}

pub const CONTROLLERS: [Descriptor; 4] = [
    Descriptor {
        name: ControllerName::Replicaset,
        component: replicaset::CONTROLLER_NAME,
        start: start_replicaset,
    },
    Descriptor {
        name: ControllerName::Deployment,
        component: deployment::CONTROLLER_NAME,
        start: start_deployment,
    },
    Descriptor {
        name: ControllerName::Endpoints,
        component: endpoints::CONTROLLER_NAME,
        start: start_endpoints,
    },
    Descriptor {
        name: ControllerName::Endpointslice,
        component: endpointslice::CONTROLLER_NAME,
        start: start_endpointslice,
    },
];

fn start_replicaset(parts: Parts<'_>) -> Started {
    let api = parts.api();
    let controller = ReplicaSetController::new(
        parts.client,
        api,
        parts.events,
        &mut parts.informers.pods,
        parts.options.replicaset_workers,
        parts.options.replicaset_batch_period,
    );
    Started {
        bookkeeping: controller.bookkeeping(),
        run: controller.run(parts.shutdown).boxed(),
    }
}

fn start_deployment(parts: Parts<'_>) -> Started {
    let api = parts.api();
    let informers = parts.informers;
    let controller = DeploymentController::new(
        parts.client,
        api,
        parts.events,
        &mut informers.pods,
        &mut informers.replica_sets,
        parts.options.deployment_workers,
    );
    Started {
        bookkeeping: controller.bookkeeping(),
        run: controller.run(parts.shutdown).boxed(),
    }
}

fn start_endpoints(parts: Parts<'_>) -> Started {
    let informers = parts.informers;
    let controller = EndpointsController::new(
        parts.client,
        parts.gate,
        parts.options.namespace.as_deref(),
        parts.events,
        &mut informers.pods,
        &mut informers.services,
        parts.options.endpoints_workers,
    );
    Started {
        bookkeeping: controller.bookkeeping(),
        run: controller.run(parts.shutdown).boxed(),
    }
}

fn start_endpointslice(parts: Parts<'_>) -> Started {
    let informers = parts.informers;
    let controller = EndpointSliceController::new(
        parts.client,
        parts.gate,
        parts.options.namespace.as_deref(),
        parts.events,
        &mut informers.pods,
        &mut informers.nodes,
        &mut informers.services,
        parts.options.endpointslice_workers,
        parts.options.max_endpoints_per_slice,
    );
    Started {
        bookkeeping: controller.bookkeeping(),
        run: controller.run(parts.shutdown).boxed(),
    }
}
