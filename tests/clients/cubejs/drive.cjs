// Drives the real @cubejs-client/core (the package named by argv[2]) against a live crosstrack
// server (argv[3]) and prints what it saw as one JSON line for tests/test_clients_cube.py.
const pkg = require(process.argv[2]);
const cube = pkg.default || pkg.cubejs || pkg;
const api = cube('public-api-token-ignored', { apiUrl: process.argv[3] + '/cubejs-api/v1' });

async function main() {
  const out = {};
  const meta = await api.meta();
  out.cubes = meta.cubes.map((c) => c.name).sort();
  out.members = meta.membersForQuery(null, 'measures').map((m) => m.name).filter((n) => n.startsWith('population.'));
  const query = {
    measures: ['population.people'],
    dimensions: ['population.race', 'population.assigned_sex'],
    filters: [{ member: 'population.snapshot_year', operator: 'equals', values: [process.argv[4]] }],
    order: { 'population.race': 'asc' },
  };
  const rs = await api.load(query);
  out.rawData = rs.rawData();
  out.pivotDimensions = rs.loadResponse.pivotQuery.dimensions;
  out.tablePivot = rs.tablePivot();
  out.chartPivot = rs.chartPivot();
  out.seriesNames = rs.seriesNames().map((s) => s.key);
  out.tableColumns = rs.tableColumns().map((c) => c.key);
  if (api.dryRun) {
    const dry = await api.dryRun(query);
    out.dryRun = dry.normalizedQueries ? dry.normalizedQueries.length : null;
  }
  if (api.sql) {
    const sql = await api.sql(query);
    out.sql = sql.rawQuery().sql[0];
  }
  try {
    await api.load({ measures: ['population.colour'] });
    out.error = null;
  } catch (e) {
    out.error = { name: e.constructor.name, message: e.message, status: e.response && e.response.status,
                  code: e.response && e.response.code };
  }
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(e && e.stack || String(e)); process.exit(1); });
