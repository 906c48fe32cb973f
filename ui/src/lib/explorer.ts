// The explorer's URL state and its parser live in core (GET /admin/export reads the same
// parameters as the UI); re-exported here for the UI's imports.
export * from '@gatelog/core/store/explorer-params';
