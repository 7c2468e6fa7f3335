/**
 * Outbound HTTP for guests: the allow-list a component declares (`allowed_outbound_hosts`, in
 * Spin's syntax), the address policy applied after DNS resolution, and the client that enforces
 * both plus the outbound limits. Nothing is reachable unless granted.
 */
export {
  type AddressClass,
  type AddressDecision,
  type AddressKind,
  classifyAddress,
  OutboundPolicy,
  type OutboundPolicyOptions,
  type OutboundTarget,
} from './address-policy.js';
export {
  type AllowedHost,
  type AllowedScheme,
  AllowList,
  describeAllowedHost,
  type HostPattern,
  LOOPBACK_NETWORKS,
  type PortPattern,
  type UrlDecision,
} from './allow-list.js';
export {
  OutboundClient,
  type OutboundClientOptions,
  type OutboundLogEntry,
  type OutboundRequest,
  type OutboundResponse,
  type Resolve,
  type ResolvedAddress,
} from './client.js';
export {
  type DnsErrorPayload,
  fromNodeError,
  type HttpErrorCode,
  OutboundError,
  type OutboundErrorFields,
  type SerializedOutboundError,
} from './error-code.js';
export {
  formatIp,
  formatNetwork,
  type IpAddress,
  type IpNetwork,
  networkContains,
  parseIp,
  parseNetwork,
  unmapIpv4,
} from './ip-address.js';
export {
  OUTBOUND_LIMIT_DEFAULTS,
  OUTBOUND_LIMIT_RANGES,
  type OutboundLimits,
  resolveOutboundLimits,
} from './limits.js';
