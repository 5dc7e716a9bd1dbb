/** A comedy actor system for one process of Troupe. */
import * as comedy from 'comedy';
import type { ActorSystem } from 'comedy';

export function createActorSystem(): ActorSystem {
  const system = comedy.createSystem({ test: true, config: {} });
  // comedy's signal handlers call process.exit(0) at once; the embedding process decides itself.
  const sys = system as unknown as { sigintHandler?: () => void; sigtermHandler?: () => void };
  if (sys.sigintHandler) process.removeListener('SIGINT', sys.sigintHandler);
  if (sys.sigtermHandler) process.removeListener('SIGTERM', sys.sigtermHandler);
  return system;
}
