/**
 * Extra routes for the coordinator's HTTP server, registered at import time by other features
 * (the dashboard mounts its static files and pages here) without editing the coordinator:
 *
 *   registerCoordinatorExtension((router, coordinator) => router.mountStatic({ prefix: '/', dir }));
 *
 * Extensions run after the API routes are registered, so an API path always wins.
 */
import type { Coordinator } from './coordinator.js';
import type { Router } from './http/router.js';

export type CoordinatorExtension = (router: Router, coordinator: Coordinator) => void;

const extensions: CoordinatorExtension[] = [];

export function registerCoordinatorExtension(extension: CoordinatorExtension): void {
  extensions.push(extension);
}

export function coordinatorExtensions(): readonly CoordinatorExtension[] {
  return extensions;
}
