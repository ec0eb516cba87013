/** The ExaBGP bridge: command building, the API event parser, transports and the single route writer. */
export {
  buildCommand,
  checkNeighbors,
  CommandRejectedError,
  BARRIER_COMMAND,
  MAX_COMMAND_LENGTH,
  type RouteAttributes,
  type RouteIntent,
} from './commands.js';
export { parseApiLine, SUMMARY_HEADER_LINE, type ApiEvent, type NeighborStateName } from './api-events.js';
export { LineSplitter } from './line-splitter.js';
export { TransportWriteError, type ExabgpTransport } from './transport.js';
export { createProcessTransport, ProcessTransport, type ProcessTransportOptions } from './process-transport.js';
export { createPipeTransport, PipeTransport, type PipeTransportOptions } from './pipe-transport.js';
export {
  RouteWriter,
  type NeighborState,
  type PrefixWriteStatus,
  type RouteWriterCounters,
  type RouteWriterOptions,
} from './route-writer.js';
