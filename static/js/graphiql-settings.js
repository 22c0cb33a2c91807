// GraphiQL's settings for graphene-django's start-up script (graphene_django/graphiql.js, deferred after
// this module), read from the page's #editor element instead of the stock template's inline script.

const editor = document.getElementById("editor");
const flag = (name) => editor.dataset[name] === "true";
const settings = {
  graphiqlHeaderEditorEnabled: flag("headerEditorEnabled"),
  graphiqlShouldPersistHeaders: flag("shouldPersistHeaders"),
  graphiqlInputValueDeprecation: flag("inputValueDeprecation"),
};
if (editor.dataset.subscriptionPath) settings.subscriptionPath = editor.dataset.subscriptionPath;
window.GRAPHENE_SETTINGS = settings;
