import { createContext, useContext } from 'react';
import type { ApiClient } from './api.js';

/** Who is calling the API: the token (if any), the client that sends it, and what to do when it is refused. */
export interface SessionValue {
  token: string | undefined;
  client: ApiClient;
  onUnauthorized: () => void;
}

export const Session = createContext<SessionValue | undefined>(undefined);

export function useSession(): SessionValue {
  const session = useContext(Session);
  if (!session) throw new Error('useSession outside <Session.Provider>');
  return session;
}
