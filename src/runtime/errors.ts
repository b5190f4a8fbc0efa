// Failures that end `sluice start`, each with the exit code DESIGN.md gives it.
export class StartupError extends Error {
  readonly exitCode: 1 | 2;
  constructor(message: string, exitCode: 1 | 2) {
    super(message);
    this.exitCode = exitCode;
  }
}
