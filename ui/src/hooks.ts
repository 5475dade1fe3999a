import { useEffect } from 'react';
import { useMutation, useQuery, useQueryClient, type QueryKey } from '@tanstack/react-query';
import { Unauthorized, type ApiClient } from './api.js';
import { useSession } from './session.js';

/** A query of the API: a refused token sends the page back to the token form. */
export function useApiQuery<T>(
  key: QueryKey,
  fn: (client: ApiClient, token: string | undefined) => Promise<T>,
) {
  const { client, token, onUnauthorized } = useSession();
  const query = useQuery({ queryKey: [...key, token], queryFn: () => fn(client, token) });
  useEffect(() => {
    if (query.error instanceof Unauthorized) onUnauthorized();
  }, [query.error, onUnauthorized]);
  return query;
}

/** An action on the API; everything shown is refetched once it is done. */
export function useApiAction<A, T>(fn: (client: ApiClient, args: A) => Promise<T>) {
  const { client, onUnauthorized } = useSession();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (args: A) => fn(client, args),
    onError: (err) => {
      if (err instanceof Unauthorized) onUnauthorized();
    },
    onSettled: () => queryClient.invalidateQueries(),
  });
}
