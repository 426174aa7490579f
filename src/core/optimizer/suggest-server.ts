import { enableSuggestion, type SettingAdvice, type StatementsExtension } from '../insights/index.js';
import { RELOAD } from './sql.js';
import { type Optimization, OptimizationKind, optimizationId, quoteIdent, quoteLiteral } from './types.js';

export function alterSystemSql(setting: string, value: string): string {
  return `ALTER SYSTEM SET ${quoteIdent(setting)} = ${quoteLiteral(value)}`;
}

/** SETTING_CHANGE for each setting whose value differs from the recommendation. */
export function settingChanges(settings: SettingAdvice[]): Optimization[] {
  return (
    settings
      // A value already written and waiting for a restart is not suggested again.
      .filter(
        (s) =>
          s.needsChange &&
          s.recommended !== null &&
          !s.pendingRestart &&
          s.name !== 'log_min_duration_statement',
      )
      .map((s) => {
        const restart = s.requiresRestart;
        // ALTER SYSTEM cannot override a value given on the server's command line (postgres -c).
        const fixed = s.source === 'command line' || s.source === 'environment variable';
        return {
          id: optimizationId(OptimizationKind.SettingChange, s.name),
          kind: OptimizationKind.SettingChange,
          title: `Set ${s.name} to ${s.recommended} (now ${s.current})`,
          rationale: `${s.name} is ${s.current}; recommended ${s.recommended}: ${s.reason}.${
            restart ? ' Takes effect only after a PostgreSQL restart, which poolpilot never does.' : ''
          }`,
          risk: restart || s.name === 'max_connections' ? 'MEDIUM' : 'LOW',
          statements: [alterSystemSql(s.name, s.recommended!), RELOAD],
          actionSummary: fixed
            ? `Advice only: ${s.name} is set on the server's ${s.source}, which ALTER SYSTEM cannot override; change it there.`
            : restart
              ? 'ALTER SYSTEM writes postgresql.auto.conf and the configuration is reloaded; the setting stays pending until the next restart.'
              : 'ALTER SYSTEM writes postgresql.auto.conf and the configuration is reloaded: in effect for new transactions at once.',
          applicable: !fixed,
          requiresRestart: restart,
          evidence: {
            source: s.source,
            setting: s.name,
            current: s.current,
            raw: s.setting,
            unit: s.unit,
            recommended: s.recommended,
            context: s.context,
          },
          action: { type: 'alter-system', setting: s.name, value: s.recommended!, requiresRestart: restart },
        } satisfies Optimization;
      })
  );
}

export function slowQueryLogging(settings: SettingAdvice[]): Optimization | null {
  const s = settings.find((x) => x.name === 'log_min_duration_statement');
  if (!s?.needsChange || s.recommended === null) return null;
  return {
    id: optimizationId(OptimizationKind.SlowQueryLogging, s.name),
    kind: OptimizationKind.SlowQueryLogging,
    title: `Log statements slower than ${s.recommended} ms`,
    rationale: `log_min_duration_statement is ${s.current} (no statement is logged for its duration); ${s.reason}.`,
    risk: 'LOW',
    statements: [alterSystemSql(s.name, s.recommended), RELOAD],
    actionSummary: 'ALTER SYSTEM and a configuration reload; no restart.',
    applicable: true,
    requiresRestart: false,
    evidence: { current: s.current, recommended: s.recommended },
    action: { type: 'alter-system', setting: s.name, value: s.recommended, requiresRestart: false },
  };
}

export function enablePgStatStatements(
  ext: StatementsExtension,
  preloadLibraries: string,
): Optimization | null {
  if (ext.schema !== null && ext.preloaded) return null;
  if (!ext.available) {
    return {
      id: optimizationId(OptimizationKind.EnablePgStatStatements, 'install'),
      kind: OptimizationKind.EnablePgStatStatements,
      title: 'Install pg_stat_statements',
      rationale: enableSuggestion(ext),
      risk: 'MEDIUM',
      statements: [],
      actionSummary: 'Advice only: the extension files are missing on the server.',
      applicable: false,
      requiresRestart: true,
      evidence: { ...ext },
      action: { type: 'advice' },
    };
  }
  if (!ext.preloaded) {
    const libs = [
      ...preloadLibraries
        .split(',')
        .map((l) => l.trim())
        .filter(Boolean),
      'pg_stat_statements',
    ].join(',');
    return {
      id: optimizationId(OptimizationKind.EnablePgStatStatements, 'preload'),
      kind: OptimizationKind.EnablePgStatStatements,
      title: 'Preload pg_stat_statements',
      rationale: `${enableSuggestion(ext)} shared_preload_libraries is '${preloadLibraries}'.`,
      risk: 'MEDIUM',
      statements: [alterSystemSql('shared_preload_libraries', libs), RELOAD],
      actionSummary:
        'ALTER SYSTEM; pending until PostgreSQL restarts (poolpilot never restarts it). Apply again afterwards to CREATE EXTENSION.',
      applicable: true,
      requiresRestart: true,
      evidence: { ...ext, sharedPreloadLibraries: preloadLibraries },
      action: {
        type: 'alter-system',
        setting: 'shared_preload_libraries',
        value: libs,
        requiresRestart: true,
      },
    };
  }
  return {
    id: optimizationId(OptimizationKind.EnablePgStatStatements, 'create'),
    kind: OptimizationKind.EnablePgStatStatements,
    title: 'Create the pg_stat_statements extension in this database',
    rationale: `${enableSuggestion(ext)} It is preloaded, so no restart is needed.`,
    risk: 'LOW',
    statements: ['CREATE EXTENSION IF NOT EXISTS pg_stat_statements'],
    actionSummary: 'Creates the extension (its view and functions) in the pooled database.',
    applicable: true,
    requiresRestart: false,
    evidence: { ...ext },
    action: { type: 'sql', statements: ['CREATE EXTENSION IF NOT EXISTS pg_stat_statements'] },
  };
}
