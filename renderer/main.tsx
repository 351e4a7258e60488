import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { getApi, hasNativeDialogs } from './api/get-api';
import { App } from './app/app';
import { createAppStore } from './store/app-store';
import { bindApi } from './store/bind-api';
import { StoreProvider } from './store/store-context';
import './app.css';

// Start-up, in order: the api (Electron's preload or browser mode's socket),
// the store that calls it, the service's pushes bound to the store's actions,
// then React.
const api = getApi();
const store = createAppStore(api, { nativeDialogs: hasNativeDialogs() });
bindApi(store, api);

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <StoreProvider store={store}>
        <App />
      </StoreProvider>
    </StrictMode>,
  );
}
