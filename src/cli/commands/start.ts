import type { Command } from 'commander';

/** `poolpilot start`: the server itself, configured from the environment exactly as `npm start`. */
export function registerStart(program: Command): void {
  program
    .command('start')
    .description('run the poolpilot server (same as npm start; configured by environment variables)')
    .action(async () => {
      const { main } = await import('../../main.js');
      await main(process.env);
    });
}
