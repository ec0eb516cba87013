/**
 * Extra routes for the coordinator's HTTP server (the dashboard's page and read-only routes),
 * handed to startCoordinator explicitly by whoever composes the coordinator: run-coordinator.ts,
 * or a test. An extension may return a stop function (timers, subscriptions), run when the
 * coordinator closes. Extensions run after the API routes are registered, so an API path always
 * wins.
 */
import type { Coordinator } from './coordinator.js';
import type { Router } from './http/router.js';

export type CoordinatorExtension = (router: Router, coordinator: Coordinator) => (() => void) | void;
