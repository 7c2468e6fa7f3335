/** Application variables: templates in the manifest, values resolved at deploy, secrets never logged. */
export {
  environmentName,
  parseVariableAssignment,
  readVariablesFile,
  resolveVariables,
  type VariableDefinition,
  type VariableSources,
} from './resolve.js';
