//! The parts of Kubernetes API objects that discovery reads, as the API reference defines
//! them (core/v1 Pod, Node, Service, Endpoints, Namespace; discovery.k8s.io/v1 EndpointSlice;
//! meta/v1 ObjectMeta, List, WatchEvent, Status). Unknown fields are ignored and every field
//! is optional, so a newer API server's objects still parse.

use std::collections::BTreeMap;

use serde::Deserialize;

/// meta/v1 ObjectMeta.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct ObjectMeta {
    /// `name`.
    pub name: String,
    /// `namespace` (empty for cluster-scoped objects).
    pub namespace: String,
    /// `uid`.
    pub uid: String,
    /// `resourceVersion`.
    pub resource_version: String,
    /// `labels`.
    pub labels: BTreeMap<String, String>,
    /// `annotations`.
    pub annotations: BTreeMap<String, String>,
    /// `ownerReferences`.
    pub owner_references: Vec<OwnerReference>,
}

/// meta/v1 OwnerReference.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct OwnerReference {
    /// `kind`.
    pub kind: String,
    /// `name`.
    pub name: String,
    /// `controller`: whether this owner is the managing controller.
    pub controller: Option<bool>,
}

/// core/v1 ObjectReference (an endpoint's `targetRef`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct ObjectReference {
    /// `kind`.
    pub kind: String,
    /// `name`.
    pub name: String,
    /// `namespace`.
    pub namespace: String,
}

/// A list answer (`PodList`, ...): the items and the list's resource version.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct List<T> {
    /// `metadata` (`resourceVersion`).
    pub metadata: ListMeta,
    /// `items`.
    pub items: Vec<T>,
}

impl<T> Default for List<T> {
    fn default() -> Self {
        Self {
            metadata: ListMeta::default(),
            items: Vec::new(),
        }
    }
}

/// meta/v1 ListMeta.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ListMeta {
    /// `resourceVersion`.
    pub resource_version: String,
}

/// One line of a watch stream.
#[derive(Clone, Debug, Deserialize)]
pub struct WatchEvent {
    /// `ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK` or `ERROR`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The object (a Status for `ERROR`).
    pub object: serde_json::Value,
}

/// meta/v1 Status (the object of an `ERROR` watch event).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Status {
    /// HTTP-like code; 410 means the resource version is too old.
    pub code: u16,
    /// `reason` (`Expired`, `Gone`).
    pub reason: String,
    /// `message`.
    pub message: String,
}

/// core/v1 ContainerPort.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct ContainerPort {
    /// `name`.
    pub name: String,
    /// `containerPort`.
    pub container_port: i32,
    /// `protocol` (`TCP`, `UDP`, `SCTP`).
    pub protocol: String,
}

/// core/v1 Container.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct Container {
    /// `name`.
    pub name: String,
    /// `image`.
    pub image: String,
    /// `ports`.
    pub ports: Vec<ContainerPort>,
}

/// core/v1 PodSpec.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct PodSpec {
    /// `nodeName`.
    pub node_name: String,
    /// `containers`.
    pub containers: Vec<Container>,
    /// `initContainers`.
    pub init_containers: Vec<Container>,
}

/// core/v1 PodCondition / NodeCondition.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Condition {
    /// `type` (`Ready`, `MemoryPressure`, ...).
    #[serde(rename = "type")]
    pub type_: String,
    /// `status` (`True`, `False`, `Unknown`).
    pub status: String,
}

/// core/v1 ContainerStatus.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct ContainerStatus {
    /// `name`.
    pub name: String,
    /// `containerID` (`containerd://...`).
    #[serde(rename = "containerID")]
    pub container_id: String,
}

/// core/v1 PodStatus.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct PodStatus {
    /// `phase`.
    pub phase: String,
    /// `podIP`.
    #[serde(rename = "podIP")]
    pub pod_ip: String,
    /// `hostIP`.
    #[serde(rename = "hostIP")]
    pub host_ip: String,
    /// `conditions`.
    pub conditions: Vec<Condition>,
    /// `containerStatuses`.
    pub container_statuses: Vec<ContainerStatus>,
    /// `initContainerStatuses`.
    pub init_container_statuses: Vec<ContainerStatus>,
}

/// core/v1 Pod.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Pod {
    /// `metadata`.
    pub metadata: ObjectMeta,
    /// `spec`.
    pub spec: PodSpec,
    /// `status`.
    pub status: PodStatus,
}

/// core/v1 NodeAddress.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct NodeAddress {
    /// `type` (`InternalIP`, `ExternalIP`, `Hostname`, ...).
    #[serde(rename = "type")]
    pub type_: String,
    /// `address`.
    pub address: String,
}

/// core/v1 DaemonEndpoint.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct DaemonEndpoint {
    /// `Port`.
    #[serde(rename = "Port")]
    pub port: i32,
}

/// core/v1 NodeDaemonEndpoints.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct NodeDaemonEndpoints {
    /// `kubeletEndpoint`.
    pub kubelet_endpoint: DaemonEndpoint,
}

/// core/v1 NodeStatus.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct NodeStatus {
    /// `addresses`.
    pub addresses: Vec<NodeAddress>,
    /// `conditions`.
    pub conditions: Vec<Condition>,
    /// `daemonEndpoints`.
    pub daemon_endpoints: NodeDaemonEndpoints,
}

/// core/v1 NodeSpec.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct NodeSpec {
    /// `providerID`.
    #[serde(rename = "providerID")]
    pub provider_id: String,
}

/// core/v1 Node.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Node {
    /// `metadata`.
    pub metadata: ObjectMeta,
    /// `spec`.
    pub spec: NodeSpec,
    /// `status`.
    pub status: NodeStatus,
}

/// core/v1 ServicePort.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ServicePort {
    /// `name`.
    pub name: String,
    /// `protocol`.
    pub protocol: String,
    /// `port`.
    pub port: i32,
}

/// core/v1 ServiceSpec.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct ServiceSpec {
    /// `type` (`ClusterIP`, `NodePort`, `LoadBalancer`, `ExternalName`).
    #[serde(rename = "type")]
    pub type_: String,
    /// `clusterIP`.
    #[serde(rename = "clusterIP")]
    pub cluster_ip: String,
    /// `externalName`.
    pub external_name: String,
    /// `loadBalancerIP` (deprecated).
    #[serde(rename = "loadBalancerIP")]
    pub load_balancer_ip: String,
    /// `ports`.
    pub ports: Vec<ServicePort>,
    /// `ipFamilyPolicy`.
    pub ip_family_policy: Option<String>,
    /// `ipFamilies`.
    pub ip_families: Vec<String>,
}

/// core/v1 LoadBalancerIngress.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct LoadBalancerIngress {
    /// `ip`.
    pub ip: String,
}

/// core/v1 LoadBalancerStatus.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct LoadBalancerStatus {
    /// `ingress`.
    pub ingress: Vec<LoadBalancerIngress>,
}

/// core/v1 ServiceStatus.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct ServiceStatus {
    /// `loadBalancer`.
    pub load_balancer: LoadBalancerStatus,
}

/// core/v1 Service.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Service {
    /// `metadata`.
    pub metadata: ObjectMeta,
    /// `spec`.
    pub spec: ServiceSpec,
    /// `status`.
    pub status: ServiceStatus,
}

/// core/v1 EndpointAddress.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct EndpointAddress {
    /// `ip`.
    pub ip: String,
    /// `hostname`.
    pub hostname: String,
    /// `nodeName`.
    pub node_name: Option<String>,
    /// `targetRef`.
    pub target_ref: Option<ObjectReference>,
}

/// core/v1 EndpointPort.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct EndpointPort {
    /// `name`.
    pub name: String,
    /// `port`.
    pub port: i32,
    /// `protocol`.
    pub protocol: String,
}

/// core/v1 EndpointSubset.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct EndpointSubset {
    /// `addresses`.
    pub addresses: Vec<EndpointAddress>,
    /// `notReadyAddresses`.
    pub not_ready_addresses: Vec<EndpointAddress>,
    /// `ports`.
    pub ports: Vec<EndpointPort>,
}

/// core/v1 Endpoints.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Endpoints {
    /// `metadata`.
    pub metadata: ObjectMeta,
    /// `subsets`.
    pub subsets: Vec<EndpointSubset>,
}

/// discovery/v1 EndpointConditions.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct EndpointConditions {
    /// `ready`.
    pub ready: Option<bool>,
    /// `serving`.
    pub serving: Option<bool>,
    /// `terminating`.
    pub terminating: Option<bool>,
}

/// discovery/v1 Endpoint.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct SliceEndpoint {
    /// `addresses`.
    pub addresses: Vec<String>,
    /// `conditions`.
    pub conditions: EndpointConditions,
    /// `hostname`.
    pub hostname: Option<String>,
    /// `targetRef`.
    pub target_ref: Option<ObjectReference>,
    /// `nodeName`.
    pub node_name: Option<String>,
    /// `zone`.
    pub zone: Option<String>,
    /// `deprecatedTopology`.
    pub deprecated_topology: BTreeMap<String, String>,
}

/// discovery/v1 EndpointPort.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct SlicePort {
    /// `name`.
    pub name: Option<String>,
    /// `protocol`.
    pub protocol: Option<String>,
    /// `port`.
    pub port: Option<i32>,
    /// `appProtocol`.
    pub app_protocol: Option<String>,
}

/// discovery/v1 EndpointSlice.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct EndpointSlice {
    /// `metadata`.
    pub metadata: ObjectMeta,
    /// `addressType` (`IPv4`, `IPv6`, `FQDN`).
    pub address_type: String,
    /// `endpoints`.
    pub endpoints: Vec<SliceEndpoint>,
    /// `ports`.
    pub ports: Vec<SlicePort>,
}

/// core/v1 Namespace.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Namespace {
    /// `metadata`.
    pub metadata: ObjectMeta,
}
